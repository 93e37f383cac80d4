"""Live sensors in a lab: start them with ``lab.popen`` and read what they print.

    sensor = start_sensor(lab, "node1")     # AF_PACKET sniffer in node1's namespace
    for obs in sensor.observations(): ...   # what it printed since the last call

Sensors print JSON rows to a log in the lab's workdir (stopped and removed
with the lab); ``# ready`` on a line of its own means it is capturing.
"""

import json
import sys
import time
from pathlib import Path

from taplab.detectors.observation import Observation

from taplab import capabilities
from taplab.errors import UserError


class ProcessLog:
    """A lab process printing JSON rows (and a `# ready` line) to a file, read incrementally."""

    def __init__(self, lab, path: Path, proc):
        self.lab, self.path, self.proc = lab, path, proc
        self.offset = 0

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.path.exists() and "# ready" in self.path.read_text(errors="replace"):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        tail = self.path.read_text(errors="replace")[-300:] if self.path.exists() else ""
        raise UserError(f"{self.path.name} did not start: {tail.strip() or 'no output'}")

    def rows(self) -> list[list]:
        """The complete rows printed since the last call."""
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        end = data.rfind(b"\n") + 1
        self.offset += end
        return [json.loads(line) for line in data[:end].splitlines() if line.startswith(b"[")]

    def observations(self) -> list[Observation]:
        return [Observation.from_row(r) for r in self.rows()]

    def stop(self) -> None:
        """Stop the process now (the lab would stop it at teardown anyway)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except Exception:  # noqa: BLE001 - still running: kill it
                self.proc.kill()
                self.proc.wait()


def start_module(lab, node: str, module: str, name: str, *args: str) -> ProcessLog:
    """Run ``python -m <module>`` in node, log in the workdir; return once it is ready."""
    log = f"{name}-{node}-{time.time_ns()}.jsonl"
    proc = lab.popen([sys.executable, "-m", module, *args],
                     node=node, log=log, grace=2.0)
    sensor = ProcessLog(lab, lab.workdir / log, proc)
    sensor.wait_ready()
    return sensor


def start_sensor(lab, node: str) -> ProcessLog:
    """The packet sensor in node's namespace (see ``taplab.detectors.sensor``)."""
    return start_module(lab, node, "taplab.detectors.sensor", "sensor")


def start_syn_counter(lab, node: str, interval: float = 0.2) -> ProcessLog:
    """The in-kernel SYN counter in node's namespace (see ``taplab.detectors.ebpf_syn``)."""
    capabilities.require("tc_bpf")
    return start_module(lab, node, "taplab.detectors.ebpf_syn", "synctr",
                        "--interval", str(interval))
