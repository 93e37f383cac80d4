"""A Zeek-like scan threshold baseline.

Source: Zeek's ``policy/misc/scan.zeek`` (SumStats). Failed connection
attempts (rejected or unanswered) are counted per scanner within ``window``
(5 minutes): ``addr_threshold`` (25) distinct hosts on one port is an address
scan, ``port_threshold`` (15) distinct ports on one host is a port scan. Each
finding is reported once per window. ``timeout``: seconds without an answer
that count as a failed attempt.
"""

from taplab.detectors.attempts import AttemptTracker
from taplab.detectors.observation import Observation
from taplab.detectors.windows import DistinctWindow, Once
from taplab.lambdas import Alert


class ZeekLikeScan:
    name = "zeek"

    def __init__(
        self,
        addr_threshold: int = 25,
        port_threshold: int = 15,
        window: float = 300.0,
        timeout: float = 3.0,
    ):
        self.addr_threshold, self.port_threshold = addr_threshold, port_threshold
        self.attempts = AttemptTracker(timeout)
        self.hosts = DistinctWindow(window)  # (scanner, port) -> hosts
        self.ports = DistinctWindow(window)  # (scanner, host) -> ports
        self.once = Once(window)

    def observe(self, obs: Observation) -> list[Alert]:
        return self._count(self.attempts.observe(obs)[1])

    def tick(self, now: float) -> list[Alert]:
        return self._count(self.attempts.expire(now))

    def _count(self, outcomes) -> list[Alert]:
        alerts = []
        for out in outcomes:
            if out.ok:
                continue
            host, port = out.key
            hosts = self.hosts.add((out.src, port), host, out.time)
            if hosts >= self.addr_threshold and self.once(("addr", out.src, port), out.time):
                alerts.append(
                    Alert(
                        "address-scan", src=out.src, detail=f"{hosts} hosts failed on port {port}"
                    )
                )
            if port is None:
                continue
            ports = self.ports.add((out.src, host), port, out.time)
            if ports >= self.port_threshold and self.once(("port", out.src, host), out.time):
                alerts.append(
                    Alert(
                        "port-scan", src=out.src, dst=host, detail=f"{ports} ports failed on {host}"
                    )
                )
        return alerts
