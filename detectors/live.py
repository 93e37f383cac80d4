"""Live sensors in a lab: start them with ``lab.popen`` and read what they print.

    sensor = start_sensor(lab, "node1")     # AF_PACKET sniffer in node1's namespace
    for obs in sensor.observations(): ...   # what it printed since the last call

Sensors print JSON rows to a log in the lab's workdir (stopped and removed
with the lab); ``# ready`` on a line of its own means it is capturing.
"""

import time

from taplab import capabilities
from taplab.detectors.catalog import Detection, feed, tick
from taplab.detectors.cusum import CusumSynFlood
from taplab.detectors.ebpf_syn import STEALTH, counts_into
from taplab.detectors.observation import Observation
from taplab.detectors.stealth_counts import KernelStealthScan
from taplab.rowlog import ProcessLog, start_module


class Sensor(ProcessLog):
    """A sensor's rows, read as observations."""

    def observations(self) -> list[Observation]:
        return [Observation.from_row(r) for r in self.rows()]


def start_sensor(lab, node: str) -> Sensor:
    """The packet sensor in node's namespace (see ``taplab.detectors.sensor``)."""
    return start_module(lab, node, "taplab.detectors.sensor", "sensor", cls=Sensor)


def start_syn_counter(lab, node: str, interval: float = 0.2) -> ProcessLog:
    """The in-kernel SYN counter in node's namespace (see ``taplab.detectors.ebpf_syn``)."""
    capabilities.require("tc_bpf")
    return start_module(
        lab, node, "taplab.detectors.ebpf_syn", "synctr", "--interval", str(interval)
    )


KERNEL_DETECTORS = ["cusum-ebpf", KernelStealthScan.name]  # what the eBPF counter feeds


def kernel_detections(row: list, cusum: CusumSynFlood, stealth: KernelStealthScan) -> list:
    """The detections one counter row raises: per-sender stealth rows feed ``stealth``
    (``stealth-ebpf``), per-destination rows feed ``cusum`` (``cusum-ebpf``)."""
    if row[1] == STEALTH:
        return [Detection(row[0], stealth.name, a) for a in stealth.observe_row(row)]
    return [Detection(row[0], KERNEL_DETECTORS[0], a) for a in counts_into(cusum, row)]


class LiveDetection:
    """Detectors running on a live sensor in a lab node (and, optionally, the eBPF counter).

        live = LiveDetection(lab, "node1", catalog.create(), ebpf=True).start()
        while ...: for det in live.poll(): print(det)
        live.stop()

    The eBPF counter's rows feed a CUSUM detector of its own, named ``cusum-ebpf``, and
    the stealth-scan detector ``stealth-ebpf``.
    """

    def __init__(self, lab, node: str, detectors: list, ebpf: bool = False, interval: float = 0.2):
        self.lab, self.node, self.detectors = lab, node, detectors
        self.ebpf, self.interval = ebpf, interval
        self.sensor: ProcessLog | None = None
        self.counter: ProcessLog | None = None
        self.kernel_cusum = CusumSynFlood(interval=interval)
        self.kernel_stealth = KernelStealthScan()
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
                found += kernel_detections(row, self.kernel_cusum, self.kernel_stealth)
        self.detections += found
        return found

    def stop(self) -> None:
        for log in (self.sensor, self.counter):
            if log is not None:
                log.stop()
