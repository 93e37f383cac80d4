"""Starts the controller process of a lab and publishes how to reach it.

    port = start(lab, ["ryu.app.simple_switch_13"])   # or [] for taplab's default apps

The process (``taplab.controllers.main``) is recorded by the lab, logs into
``<workdir>/controller.log`` and is stopped with the lab. ``lab.meta["controller"]``
gets the OpenFlow port, the lambda server's API URL, token file, telemetry port
and key file.
"""

import importlib.util
import os
import secrets
import socket
import sys
import time
import urllib.request
from pathlib import Path

from taplab.controllers import ryu_shim
from taplab.controllers.settings import ControllerSettings

from taplab.errors import UserError

DEFAULT_APPS = ["taplab.controllers.learning_switch", "taplab.controllers.lambda_app"]
LAMBDA_APP = "taplab.controllers.lambda_app"
OPENFLOW_PORT = 6653
READY_TIMEOUT = 30.0


def check_app(app: str) -> str:
    """The app as os-ken loads it (a file path or a module name); UserError if neither."""
    if app.endswith(".py") or os.sep in app:
        if not Path(app).is_file():
            raise UserError(f"controller app file '{app}' does not exist.")
        return str(Path(app).resolve())
    try:
        found = importlib.util.find_spec(ryu_shim.target(app) or app)
    except (ImportError, ValueError):
        found = None
    if found is None:
        raise UserError(f"no controller app named '{app}': give a .py file or a module name "
                        "such as ryu.app.simple_switch_13.")
    return app


def free_port(kind: int = socket.SOCK_STREAM, wanted: int = 0) -> int:
    """wanted if it is free on 127.0.0.1, else a free port chosen by the kernel."""
    for port in ((wanted, 0) if wanted else (0,)):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise UserError("no free port on 127.0.0.1.")


def _secret_file(path: Path, text: str) -> str:
    """A file only root can read (0600 from creation on)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return str(path)


def start(lab, apps: list[str], port: int | None = None, **options) -> int:
    """Start the controller for lab; return its OpenFlow port once it listens.

    port None: 6653 if free, else any free port; an explicit port must be free.
    options: ControllerSettings fields (sample_rate, poll_interval, time_limit, ...).
    """
    apps = [check_app(a) for a in apps] or list(DEFAULT_APPS)
    if port is not None and free_port(wanted=port) != port:
        raise UserError(f"port {port} is in use: choose another with --port.")
    work = Path(lab.workdir)
    settings = ControllerSettings(
        apps=apps, workdir=str(work),
        openflow_port=port or free_port(wanted=OPENFLOW_PORT),
        api_port=free_port(), telemetry_port=free_port(socket.SOCK_DGRAM),
        token_file=_secret_file(work / "controller.token", secrets.token_hex(16)),
        telemetry_key_file=_secret_file(work / "telemetry.key", secrets.token_hex(32)),
        **options)
    config = work / "controller.json"
    settings.save(config)
    proc = lab.popen([sys.executable, "-m", "taplab.controllers.main", str(config)],
                     log="controller.log")
    meta = {"openflow_port": settings.openflow_port, "pid": proc.pid, "apps": apps,
            "log": str(work / "controller.log")}
    if LAMBDA_APP in apps:
        meta.update(api_url=f"http://127.0.0.1:{settings.api_port}",
                    token_file=settings.token_file, telemetry_port=settings.telemetry_port,
                    telemetry_key_file=settings.telemetry_key_file)
    _wait_ready(proc, work / "controller.log", settings.openflow_port, meta.get("api_url"))
    lab.set_meta(controller=meta)
    return settings.openflow_port


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _answering(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=1) as reply:
            return reply.status == 200
    except OSError:
        return False


def _wait_ready(proc, log: Path, port: int, api_url: str | None) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            lines = log.read_text(errors="replace").strip().splitlines() or ["no output"]
            raise UserError(f"the controller exited at start-up ({lines[-1].strip()}); "
                            f"see {log}.")
        if _listening(port) and (api_url is None or _answering(api_url)):
            return
        time.sleep(0.1)
    raise UserError(f"the controller did not listen on port {port} within "
                    f"{READY_TIMEOUT:.0f} s; see {log}.")
