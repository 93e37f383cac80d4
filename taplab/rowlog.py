"""Lab processes that print JSON rows: ``python -m MODULE`` in a node, its log read as
it grows.

    server = start_module(lab, "web", "taplab.traffic.httpserver", "http", "--port", "80")
    server.rows()    # the complete ``[...]`` rows printed since the last call
    server.stop()

The process logs into the lab's output folder and prints ``# ready`` on a line
of its own once it works; the lab stops it at teardown if nobody did before.
"""

import json
import sys
import time
from pathlib import Path

from taplab import ready


class ProcessLog:
    """A lab process printing JSON rows (and a `# ready` line) to a file, read incrementally."""

    def __init__(self, lab, path: Path, proc):
        self.lab, self.path, self.proc = lab, path, proc
        self.offset = 0

    def rows(self) -> list[list]:
        """The complete rows printed since the last call."""
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        end = data.rfind(b"\n") + 1
        self.offset += end
        return [json.loads(line) for line in data[:end].splitlines() if line.startswith(b"[")]

    def stop(self) -> None:
        """Stop the process now (the lab would stop it at teardown anyway)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except Exception:  # noqa: BLE001 - still running: kill it
                self.proc.kill()
                self.proc.wait()


def start_module(
    lab, node: str, module: str, name: str, *args: str, cls: type[ProcessLog] = ProcessLog
) -> ProcessLog:
    """Run ``python -m <module>`` in node, log in the workdir; return once it is ready."""
    log = f"{name}-{node}-{time.time_ns()}.jsonl"
    proc = lab.popen([sys.executable, "-m", module, *args], node=node, log=log, grace=2.0)
    process = cls(lab, lab.workdir / log, proc)
    ready.wait(
        proc,
        process.path,
        f"the {name} in {node}",
        ready.marker(process.path, "# ready"),
        timeout=60,
    )
    return process
