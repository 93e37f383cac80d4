"""Per-source fan-out: a source making first contacts with too many destinations.

A first contact is a new (host, port) pair (see ``attempts``); a source with
``threshold`` (20) of them within ``window`` (10 s) is reported, whatever the
answers were, once per window. The simplest scan heuristic: fast, but blind
to scans slower than threshold/window.
"""

from taplab.detectors.attempts import AttemptTracker
from taplab.detectors.observation import Observation
from taplab.detectors.windows import DistinctWindow, Once
from taplab.lambdas import Alert


class FanOut:
    name = "fan-out"

    def __init__(self, threshold: int = 20, window: float = 10.0):
        self.threshold = threshold
        self.attempts = AttemptTracker(timeout=window)
        self.contacts = DistinctWindow(window)
        self.once = Once(window)

    def observe(self, obs: Observation) -> list[Alert]:
        key, _outcomes = self.attempts.observe(obs)
        if key is None:
            return []
        count = self.contacts.add(obs.src, key, obs.time)
        if count >= self.threshold and self.once(obs.src, obs.time):
            return [
                Alert(
                    "fan-out",
                    src=obs.src,
                    detail=f"{count} new destinations in {self.contacts.window:g}s",
                )
            ]
        return []

    def tick(self, now: float) -> list[Alert]:
        return []
