"""Running a generator's tool inside a lab node for a bounded time."""

import json
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass

from taplab.errors import UserError
from taplab.measure import node_ip
from taplab.traffic import groundtruth
from taplab.traffic.groundtruth import GroundTruth


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


@dataclass
class Run:
    """One bounded run of a tool in a node: what ran, when, and what it printed."""

    node: str
    argv: list[str]
    start: float
    end: float
    text: str

    def summary(self) -> dict:
        """The first JSON row the tool printed, or {}."""
        return next((json.loads(ln) for ln in self.text.splitlines() if ln.startswith("{")), {})


def run_logged(lab, node: str, argv: list[str], limit: float, kind: str) -> Run:
    """run_bounded with a fresh log named after kind; the Run with the log's text."""
    log = log_name(kind)
    start, end = run_bounded(lab, node, argv, limit, log)
    return Run(node, argv, start, end, log_text(lab, log))


def record(
    lab,
    run: Run,
    kind: str,
    malicious: bool,
    targets: list[str],
    ports: list[int],
    tool: str,
    rate: float | None = None,
    rate_unit: str = "",
    out=None,
    spoofed: bool = False,
    details: dict | None = None,
) -> GroundTruth:
    """The ground truth of run (its node the source), written to the lab and out."""
    truth = GroundTruth(
        kind,
        malicious,
        run.node,
        [node_ip(lab, run.node)],
        targets,
        ports,
        tool,
        command(run.argv),
        rate,
        rate_unit,
        run.start,
        run.end,
        spoofed=spoofed,
        details=details or {},
    )
    groundtruth.write(lab, truth, out)
    return truth


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
