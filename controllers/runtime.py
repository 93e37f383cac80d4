"""Starts the controller process of a lab and publishes how to reach it.

    port = start(lab, ["ryu.app.simple_switch_13"])   # or [] for taplab's default apps
    wait_connected(lab)                                # once the switches exist

The process (``taplab.controllers.main``) is recorded by the lab, logs into
``<workdir>/controller.log`` and is stopped with the lab. ``lab.controller``
gets the OpenFlow port, the log, the REST URL when an app serves Ryu's WSGI API,
and the lambda server's API URL, token file, telemetry port and key file.
"""

import functools
import json
import os
import secrets
import socket
import sys
import urllib.request
from pathlib import Path

from taplab import ready
from taplab.controllers import handshake_log, ryu_shim, supervision
from taplab.controllers.settings import ControllerSettings
from taplab.errors import UserError
from taplab.procs import start_time

DEFAULT_APPS = ["taplab.controllers.learning_switch", "taplab.controllers.lambda_app"]
LAMBDA_APP = "taplab.controllers.lambda_app"
OPENFLOW_PORT = 6653
WSAPI_PORT = 8080  # Ryu's default REST port
READY_TIMEOUT = 30.0
CONNECT_TIMEOUT = 10.0
ATTEMPTS = 3


def check_app(app: str) -> str:
    """The app as os-ken loads it (a file path or a module name); UserError if neither."""
    if app.endswith(".py") or os.sep in app:
        if not Path(app).is_file():
            raise UserError(f"controller app file '{app}' does not exist.")
        return str(Path(app).resolve())
    if not ryu_shim.exists(app):
        raise UserError(
            f"no controller app named '{app}': give a .py file or a module name "
            "such as ryu.app.simple_switch_13."
        )
    return app


def free_port(kind: int = socket.SOCK_STREAM, wanted: int = 0) -> int:
    """wanted if it is free on 127.0.0.1, else a free port chosen by the kernel."""
    for port in (wanted, 0) if wanted else (0,):
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


def start(
    lab,
    apps: list[str],
    port: int | None = None,
    wsapi_port: int | None = None,
    wsapi_host: str = "0.0.0.0",
    ryu_args: tuple[str, ...] = (),
    wrap=None,
    **options,
) -> int:
    """Start the controller for lab; return its OpenFlow port once it listens.

    port None: 6653 if free, else any free port (another lab starting at the same
    moment may take a port first: then the controller is restarted on new ports);
    an explicit port must be free. wsapi_port is the same for Ryu's REST API (8080
    if free), on wsapi_host. ryu_args: more ryu-manager options (``--observe-links``,
    ``--verbose``). wrap: turns the controller's command line into the one started (a
    student's app runs confined). options: ControllerSettings fields (sample_rate, ...).
    """
    apps = [check_app(a) for a in apps] or list(DEFAULT_APPS)
    for wanted, option in ((port, "--port"), (wsapi_port, "--wsapi-port")):
        if wanted is not None and free_port(wanted=wanted) != wanted:
            raise UserError(f"port {wanted} is in use: choose another with {option}.")
    work = Path(lab.workdir)  # outlives the lab and goes to the sudo user: no secrets there
    token = _secret_file(Path(lab.rundir) / "controller.token", secrets.token_hex(16))
    key = _secret_file(Path(lab.rundir) / "telemetry.key", secrets.token_hex(32))
    log = work / "controller.log"
    for attempt in range(ATTEMPTS):
        rest_port = wsapi_port or free_port(wanted=WSAPI_PORT if not attempt else 0)
        settings = ControllerSettings(
            apps=apps,
            workdir=str(work),
            token_file=token,
            telemetry_key_file=key,
            openflow_port=port or free_port(wanted=OPENFLOW_PORT if not attempt else 0),
            api_port=free_port(),
            telemetry_port=free_port(socket.SOCK_DGRAM),
            ryu_args=[*ryu_args, "--wsapi-host", wsapi_host, "--wsapi-port", str(rest_port)],
            **options,
        )
        config = work / "controller.json"
        settings.save(config)
        offset = log.stat().st_size if log.exists() else 0
        argv = [sys.executable, "-m", "taplab.controllers.main", str(config)]
        argv = wrap(argv) if wrap else argv
        proc = lab.popen(argv, log=log.name)
        meta = {
            "openflow_port": settings.openflow_port,
            "pid": proc.pid,
            "apps": apps,
            "log": str(log),
        }
        if LAMBDA_APP in apps:
            meta.update(
                api_url=f"http://127.0.0.1:{settings.api_port}",
                token_file=token,
                telemetry_port=settings.telemetry_port,
                telemetry_key_file=key,
            )
        try:
            _wait_ready(proc, log, offset, settings.openflow_port, meta.get("api_url"))
        except PortTaken:
            proc.terminate()
            proc.wait(10)
            if port is not None or wsapi_port is not None or attempt == ATTEMPTS - 1:
                raise UserError(
                    f"another process took the controller's ports; see {log}."
                ) from None
            continue
        if _owns_listener(proc.pid, rest_port):  # bound before OpenFlow, when an app asks
            meta["wsapi_url"] = f"http://{_reachable(wsapi_host)}:{rest_port}"
        lab.set_meta(controller=meta)
        again = (lab, argv, log, settings.openflow_port, meta.get("api_url"))
        supervision.watch(lab, proc, functools.partial(_relaunch, *again))
        return settings.openflow_port
    raise AssertionError("unreachable")


def _relaunch(lab, argv: list[str], log: Path, port: int, api_url: str | None):
    """The controller started again with the same command, on the same ports."""
    offset = log.stat().st_size
    proc = lab.popen(argv, log=log.name)
    _wait_ready(proc, log, offset, port, api_url)
    return proc


def _reachable(host: str) -> str:
    """The address to reach a server listening on host from this machine."""
    return "127.0.0.1" if host in ("0.0.0.0", "") else host


class PortTaken(Exception):
    """Another process bound one of the controller's ports first."""


def _owns_listener(pid: int, port: int) -> bool:
    """Whether process pid holds the TCP socket listening on 127.0.0.1:port."""
    try:
        sockets = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return False
    for line in lines:
        fields = line.split()
        local, state, inode = fields[1], fields[3], fields[9]
        if (
            state == "0A"
            and int(local.split(":")[1], 16) == port
            and f"socket:[{inode}]" in sockets
        ):
            return True
    return False


def _answering(url: str, pid: int) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=1) as reply:
            return json.loads(reply.read()).get("pid") == pid
    except (OSError, ValueError):
        return False


def _wait_ready(proc, log: Path, offset: int, port: int, api_url: str | None) -> None:
    """Wait until the controller listens on port (and its API answers); PortTaken when
    another process bound one of its ports first."""
    taken = ready.marker(log, "Address already in use", offset)

    def up() -> bool:
        exited = proc.poll() is not None
        if taken() or (exited and ready.listening(port) and not _owns_listener(proc.pid, port)):
            raise PortTaken()
        return _owns_listener(proc.pid, port) and (api_url is None or _answering(api_url, proc.pid))

    ready.wait(proc, log, "the controller", up, READY_TIMEOUT, offset)


def wait_connected(lab, timeout: float = CONNECT_TIMEOUT) -> None:
    """Wait until the controller has completed the handshake with every OVS switch the
    lab set to secure fail mode; else end with one sentence naming the likely cause (the
    app died, OpenFlow versions, the port)."""
    meta = lab.controller
    log = Path(meta.get("log", ""))
    switches = [s for s in lab.net.switches if getattr(s, "failMode", None) == "secure"]

    def settled() -> bool:  # every switch is connected, or one never will be
        output = _read(log)
        done = handshake_log.connected_dpids(output)
        switches[:] = [s for s in switches if s.dpid.lower() not in done]
        return not switches or _died(meta) or _version_mismatch(output)

    ready.until(settled, timeout, 0.2)
    if not switches:
        return
    names = ", ".join(s.name for s in switches)
    if _died(meta):
        cause = f"the controller app died ({ready.last_lines(log)})"
    elif _version_mismatch(_read(log)):
        versions = sorted({str(s.protocols) for s in switches})
        cause = (
            "the app's OpenFlow versions (its OFP_VERSIONS) and the switch's "
            f"({', '.join(versions)}) have none in common"
        )
    else:
        cause = (
            f"nothing answered on 127.0.0.1:{meta.get('openflow_port')} within {timeout:.0f} s "
            "(the app may hang at start, or another process holds the port)"
        )
    raise UserError(f"switch {names} did not connect to the controller: {cause}; see {log}.")


def _read(log: Path) -> str:
    return log.read_text(errors="replace") if log.is_file() else ""


def _version_mismatch(log_text: str) -> bool:
    """Whether os-ken logged a switch whose OpenFlow versions it does not speak."""
    return "no compatible version" in log_text or "unsupported version" in log_text


def _died(meta: dict) -> bool:
    """Whether the lab's controller process has exited (a zombie counts as exited)."""
    return bool(meta.get("pid")) and start_time(meta["pid"]) is None
