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

from taplab import capabilities, ready
from taplab.detectors.catalog import Detection, feed, tick
from taplab.detectors.cusum import CusumSynFlood
from taplab.detectors.ebpf_syn import counts_into
from taplab.detectors.observation import Observation


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
    proc = lab.popen([sys.executable, "-m", module, *args], node=node, log=log, grace=2.0)
    sensor = ProcessLog(lab, lab.workdir / log, proc)
    ready.wait(
        proc, sensor.path, f"the {name} in {node}", ready.marker(sensor.path, "# ready"), timeout=60
    )
    return sensor


def start_sensor(lab, node: str) -> ProcessLog:
    """The packet sensor in node's namespace (see ``taplab.detectors.sensor``)."""
    return start_module(lab, node, "taplab.detectors.sensor", "sensor")


def start_syn_counter(lab, node: str, interval: float = 0.2) -> ProcessLog:
    """The in-kernel SYN counter in node's namespace (see ``taplab.detectors.ebpf_syn``)."""
    capabilities.require("tc_bpf")
    return start_module(
        lab, node, "taplab.detectors.ebpf_syn", "synctr", "--interval", str(interval)
    )


class LiveDetection:
    """Detectors running on a live sensor in a lab node (and, optionally, the eBPF counter).

        live = LiveDetection(lab, "node1", catalog.create(), ebpf=True).start()
        while ...: for det in live.poll(): print(det)
        live.stop()

    The eBPF counter's rows feed a CUSUM detector of its own, named ``cusum-ebpf``.
    """

    def __init__(self, lab, node: str, detectors: list, ebpf: bool = False, interval: float = 0.2):
        self.lab, self.node, self.detectors = lab, node, detectors
        self.ebpf, self.interval = ebpf, interval
        self.sensor: ProcessLog | None = None
        self.counter: ProcessLog | None = None
        self.kernel_cusum = CusumSynFlood(interval=interval)
        self.observations: list[Observation] = []
        self.detections: list[Detection] = []

    def start(self) -> "LiveDetection":
        if self.ebpf:
            self.counter = start_syn_counter(self.lab, self.node, self.interval)
        self.sensor = start_sensor(self.lab, self.node)
        return self

    def poll(self) -> list[Detection]:
        """Feed what the sensors printed since the last poll; the new detections."""
        found = []
        for obs in self.sensor.observations():
            self.observations.append(obs)
            found += feed(self.detectors, obs)
        found += tick(self.detectors, time.time())
        if self.counter is not None:
            for row in self.counter.rows():
                found += [
                    Detection(row[0], "cusum-ebpf", a) for a in counts_into(self.kernel_cusum, row)
                ]
        self.detections += found
        return found

    def stop(self) -> None:
        for log in (self.sensor, self.counter):
            if log is not None:
                log.stop()
