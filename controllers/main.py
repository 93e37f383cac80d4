"""The controller process: ``python -m taplab.controllers.main SETTINGS.json``.

Configures os-ken (native thread hub, OpenFlow listener on 127.0.0.1 and the
given port), maps ``ryu`` onto ``os_ken`` and runs the apps until stopped.
"""

import logging
import os
import sys

from taplab.controllers import ryu_shim
from taplab.controllers.settings import ENV, ControllerSettings


def main(argv: list[str]) -> int:
    settings = ControllerSettings.load(argv[0])
    # A short GIL switch interval lets the telemetry thread answer ACKs promptly.
    sys.setswitchinterval(0.0005)
    os.environ[ENV] = os.path.abspath(argv[0])
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    from os_ken import cfg
    from os_ken.base.app_manager import AppManager
    from os_ken.controller import controller  # noqa: F401 - registers the OpenFlow options

    cfg.CONF(args=[], project="os_ken", default_config_files=[])
    cfg.CONF.set_override("ofp_listen_host", "127.0.0.1")
    cfg.CONF.set_override("ofp_tcp_listen_port", settings.openflow_port)
    ryu_shim.install()
    AppManager.run_apps(settings.apps)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
