"""A Snort-like scan threshold baseline (sfPortscan, medium sensitivity).

Source: Snort 2's sfPortscan preprocessor (``sense_level medium``). Within a
``window`` of 90 s, a source that draws ``reject_threshold`` (10) negative
answers (TCP RST, ICMP unreachable) or probes ``port_threshold`` (15) distinct
ports on one host is reported, once per window.
"""

from taplab.detectors.attempts import AttemptTracker
from taplab.detectors.observation import Observation
from taplab.detectors.windows import DistinctWindow, Once, SumWindow
from taplab.lambdas import Alert


class SnortLikeScan:
    name = "snort"

    def __init__(
        self,
        reject_threshold: int = 10,
        port_threshold: int = 15,
        window: float = 90.0,
        timeout: float = 3.0,
    ):
        self.reject_threshold, self.port_threshold = reject_threshold, port_threshold
        self.attempts = AttemptTracker(timeout)
        self.rejects = SumWindow(window)
        self.ports = DistinctWindow(window)
        self.once = Once(window)

    def observe(self, obs: Observation) -> list[Alert]:
        key, outcomes = self.attempts.observe(obs)
        alerts = []
        if key is not None and key[1] is not None:
            ports = self.ports.add((obs.src, key[0]), key[1], obs.time)
            if ports >= self.port_threshold and self.once(obs.src, obs.time):
                alerts.append(
                    Alert(
                        "portscan",
                        src=obs.src,
                        dst=key[0],
                        detail=f"{ports} ports probed on {key[0]} in the window",
                    )
                )
        for out in outcomes:
            if not out.rejected:
                continue
            rejects = self.rejects.add(out.src, 1, out.time)
            if rejects >= self.reject_threshold and self.once(out.src, out.time):
                alerts.append(
                    Alert(
                        "portscan",
                        src=out.src,
                        dst=out.key[0],
                        detail=f"{rejects:.0f} rejected probes in the window",
                    )
                )
        return alerts

    def tick(self, now: float) -> list[Alert]:
        self.attempts.expire(now)  # silence is not a reject: nothing to count
        return []
