"""Waiting until a process just started is ready (a marker in its log, a port, a file),
until any condition holds, or until counters stop moving.

    proc = lab.popen(argv, node="pod1", log="server.log")
    log = lab.workdir / "server.log"
    ready.wait(proc, log, "the web server in pod1", ready.marker(log, "serving"))

The process exiting ends the wait at once. Either way the error is one sentence
(a ``UserError``) with the last lines of the process's log.
"""

import socket
import time
from collections.abc import Callable
from pathlib import Path
from subprocess import Popen
from typing import Any

from taplab.errors import UserError

POLL = 0.05  # seconds between checks


def wait(
    proc: Popen,
    log: Path,
    what: str,
    ready: Callable[[], bool],
    timeout: float = 30.0,
    offset: int = 0,
) -> None:
    """Return once ready() is true; raise UserError if proc exits first or timeout passes.

    The error quotes the last lines of log (those after offset bytes)."""
    deadline = time.monotonic() + timeout
    while True:
        exited = proc.poll() is not None  # first: an exit's last words are in the log by now
        if ready():
            return
        if exited:
            raise UserError(
                f"{what} exited at start-up (exit {proc.returncode}): "
                f"{last_lines(log, offset)}; see {log}."
            )
        if time.monotonic() > deadline:
            raise UserError(
                f"{what} was not ready within {timeout:g} s: {last_lines(log, offset)}; see {log}."
            )
        time.sleep(POLL)


def until(condition: Callable[[], Any], timeout: float, interval: float = POLL) -> Any:
    """condition()'s first truthy value within timeout seconds, else None."""
    deadline = time.monotonic() + timeout
    while True:
        if found := condition():
            return found
        if time.monotonic() > deadline:
            return None
        time.sleep(interval)


def steady(
    read: Callable[[], Any], timeout: float, interval: float, key: Callable[[Any], Any] = None
) -> Any:
    """read()'s value once the next read, interval seconds later, gives the same (compared
    by key); the last value read before timeout otherwise. For counters still moving."""
    key = key or (lambda value: value)
    last = read()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(interval)
        now = read()
        if key(now) == key(last):
            break
        last = now
    return last


def marker(log: Path, text: str, offset: int = 0) -> Callable[[], bool]:
    """Ready once text appears in log after offset bytes."""
    return lambda: text in _read(log, offset)


def listening(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on host:port (from this namespace)."""
    with socket.socket() as s:
        return s.connect_ex((host, port)) == 0


def last_lines(log: Path, offset: int = 0, count: int = 3) -> str:
    """The last non-empty lines of log after offset bytes, joined by " | "."""
    lines = [line.strip() for line in _read(log, offset).splitlines() if line.strip()]
    return " | ".join(lines[-count:]) or "no output"


def _read(log: Path, offset: int) -> str:
    try:
        with open(log, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")
    except OSError:  # not written yet
        return ""
