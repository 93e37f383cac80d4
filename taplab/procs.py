"""Process identity that survives pid reuse: a pid plus its kernel start time."""

import os
import signal
from dataclasses import dataclass

from taplab import ready


def start_time(pid: int) -> int | None:
    """The start time in clock ticks since boot of a running pid; None if gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name may contain spaces and parentheses: split after the last ')'.
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] in ("Z", "X") else int(fields[19])


@dataclass(frozen=True)
class ProcessId:
    """A process, identified so that a recycled pid is never mistaken for it."""

    pid: int
    started: int

    @classmethod
    def of(cls, pid: int) -> "ProcessId":
        started = start_time(pid)
        if started is None:
            raise ProcessLookupError(pid)
        return cls(pid, started)

    def alive(self) -> bool:
        return start_time(self.pid) == self.started

    def stop(self, grace: float = 3.0) -> None:
        """SIGTERM, then SIGKILL after grace seconds; a no-op if it is gone."""
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 2.0)):
            if not self.alive():
                return
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                return
            # gone; a zombie child of ours is reaped while we wait (_reap is falsy)
            if ready.until(lambda: not self.alive() or _reap(self.pid), wait, 0.02):
                return


def _reap(pid: int) -> None:
    """Collect a zombie child so that it stops looking alive."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
