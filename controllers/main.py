"""The controller process: ``python -m taplab.controllers.main SETTINGS.json``.

Configures os-ken (native thread hub, OpenFlow listener on 127.0.0.1 and the
given port, the settings' ``ryu_args`` such as ``--observe-links`` or
``--wsapi-port``), maps ``ryu`` onto ``os_ken`` and runs the apps as
``ryu-manager`` does until stopped.
"""

import logging
import os
import socket
import sys

from taplab.controllers import ryu_shim
from taplab.controllers.settings import ENV, ControllerSettings


def main(argv: list[str]) -> int:
    settings = ControllerSettings.load(argv[0])
    # A short GIL switch interval lets the telemetry thread answer ACKs promptly.
    sys.setswitchinterval(0.0005)
    os.environ[ENV] = os.path.abspath(argv[0])
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stdout,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    from os_ken import cfg

    from taplab.controllers import handshake_log, openflow_guard, ryu_manager

    cfg.CONF(args=settings.ryu_args, project="os_ken", default_config_files=[])
    cfg.CONF.set_override("ofp_listen_host", "127.0.0.1")
    cfg.CONF.set_override("ofp_tcp_listen_port", settings.openflow_port)
    if cfg.CONF.verbose:
        logging.getLogger().setLevel(logging.DEBUG)
    ryu_shim.install()
    openflow_guard.install()
    handshake_log.install()
    if not _ports_free(settings):
        return 3
    ryu_manager.run(settings.apps)
    return 0


def _ports_free(settings: ControllerSettings) -> bool:
    """Say so (the runtime then picks new ports) if another process took one of ours."""
    for kind, port in (
        (socket.SOCK_STREAM, settings.openflow_port),
        (socket.SOCK_STREAM, settings.api_port),
        (socket.SOCK_DGRAM, settings.telemetry_port),
    ):
        with socket.socket(socket.AF_INET, kind) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                print(f"Address already in use: 127.0.0.1:{port}", flush=True)
                return False
    return True


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
