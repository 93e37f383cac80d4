"""``ryu-manager [OPTIONS] APP ...``: Ryu's command, running Ryu apps on os-ken.

Takes the options the Ryu book uses (``--verbose``, ``--observe-links``,
``--ofp-tcp-listen-port``, ``--wsapi-host``, ``--wsapi-port``, ``--app-lists``,
app module names and app files) and runs the apps as Ryu did: contexts first,
then the apps, then the REST server of the ``wsgi`` context, until Ctrl-C::

    ryu-manager --verbose ryu.app.simple_switch_13
    ryu-manager ryu.app.ofctl_rest --wsapi-port 8081

It refuses to run where a real Ryu is installed (that Ryu's own command is meant).
``run(apps)`` is what taplab's lab controller (``main``) runs too.
"""

import importlib.util
import logging
import os
import signal
import sys
from pathlib import Path

from os_ken import cfg, log
from os_ken.base.app_manager import AppManager
from os_ken.controller import controller  # noqa: F401 - registers the OpenFlow options
from os_ken.lib import hub
from os_ken.topology import switches  # noqa: F401 - registers --observe-links

from taplab.controllers import ryu_shim, ryu_wsgi

cfg.CONF.register_cli_opts(
    [
        cfg.ListOpt("app-lists", default=[], help="application module names to run"),
        cfg.MultiStrOpt("app", positional=True, default=[], help="application module name to run"),
    ]
)
DEFAULT_APP = "ryu.controller.ofp_handler"  # Ryu runs the OpenFlow handler alone


def run(apps: list[str]) -> None:
    """Load and start apps and their contexts; serve REST if asked; block until they end."""
    manager = AppManager.get_instance()
    manager.load_apps(apps)
    contexts = manager.create_contexts()
    ryu_wsgi.serve(manager)  # bound before the OpenFlow listener: ready means both
    services = manager.instantiate_apps(**contexts)
    try:
        hub.joinall(services)
    finally:
        manager.close()


def real_ryu() -> str | None:
    """Where a real Ryu package is installed, if one is."""
    spec = importlib.util.find_spec("ryu")
    return spec.origin or ", ".join(spec.submodule_search_locations or []) if spec else None


def main(argv: list[str] | None = None) -> int:
    """Run ryu-manager: exit 2 on a refusal or unknown app, 1 if the apps fail, 0 on Ctrl-C."""
    installed = real_ryu()
    if installed:
        print(
            f"ryu-manager: a real Ryu is installed ({installed}); run its own ryu-manager "
            "or uninstall it to run Ryu's apps on os-ken.",
            file=sys.stderr,
        )
        return 2
    cfg.CONF(
        args=sys.argv[1:] if argv is None else argv,
        prog="ryu-manager",
        project="ryu",
        version="ryu-manager (taplab, os-ken)",
        default_config_files=[],
    )
    log.init_log()
    ryu_shim.install()
    apps = cfg.CONF.app_lists + cfg.CONF.app or [DEFAULT_APP]
    missing = [
        app
        for app in apps
        if not (Path(app).is_file() if app.endswith(".py") else ryu_shim.exists(app))
    ]
    if missing:
        print(f"ryu-manager: no app named {', '.join(missing)}.", file=sys.stderr)
        return 2
    code = 0
    # Ctrl-C stops it even when started from a script that ignores SIGINT for its children
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        run(apps)
    except KeyboardInterrupt:
        logging.getLogger("ryu-manager").debug("Ctrl-C: closing the apps")
    except Exception:
        logging.getLogger("ryu-manager").exception("the apps failed")
        code = 1
    # The apps' hub threads are not daemons and cannot be stopped one by one (eventlet's
    # green threads died with the process): end the process once the apps are closed.
    logging.shutdown()
    sys.stdout.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
