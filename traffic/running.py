"""Running a generator's tool inside a lab node for a bounded time."""

import shlex
import subprocess
import sys
import time

from taplab.errors import UserError


def python_module(module: str, *args: str) -> list[str]:
    """argv running one of taplab's own tools with this interpreter."""
    return [sys.executable, "-m", module, *args]


def run_bounded(lab, node: str, argv: list[str], limit: float, log: str) -> tuple[float, float]:
    """Run argv in node until it exits or limit seconds pass; (start, end) times.

    The tool runs in its own session (the lab stops it at teardown); an
    interrupt stops it at once.
    """
    start = time.time()
    proc = lab.popen(argv, node=node, log=log)
    try:
        proc.wait(timeout=limit)
    except BaseException as exc:  # the limit, or Ctrl-C: stop the tool now
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if not isinstance(exc, subprocess.TimeoutExpired):
            raise
    return start, time.time()


def log_text(lab, log: str) -> str:
    path = lab.workdir / log
    return path.read_text(errors="replace") if path.exists() else ""


def command(argv: list[str]) -> str:
    return shlex.join(argv)


def log_name(kind: str) -> str:
    return f"{kind}-{time.time_ns()}.log"


def require_positive(**values: float) -> None:
    """A UserError for the first value that is not positive."""
    for name, value in values.items():
        if value is None or value <= 0:
            raise UserError(f"--{name.replace('_', '-')} must be positive, got {value}.")
