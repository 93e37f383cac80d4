"""Heavy hitter: a source sending more than ``rate_bps`` bits/s over a window.

Source: the heavy-hitter lambda of the "lambda functions for network
monitoring" thesis (2021), which flags flows whose byte counters exceed a
threshold between two polls; here per source over a sliding ``window`` of
seconds. Reported once, again only after the source falls below the rate.
"""

from taplab.detectors.observation import Observation
from taplab.detectors.windows import SumWindow
from taplab.lambdas import Alert


class HeavyHitter:
    name = "heavy-hitter"

    def __init__(self, rate_bps: float = 100e6, window: float = 5.0):
        self.rate_bps, self.window = rate_bps, window
        self.bytes = SumWindow(window)
        self.hitting: set[str] = set()

    def observe(self, obs: Observation) -> list[Alert]:
        total = self.bytes.add(obs.src, obs.length, obs.time)
        rate = total * 8 / self.window
        if rate < self.rate_bps:
            self.hitting.discard(obs.src)
            return []
        if obs.src in self.hitting:
            return []
        self.hitting.add(obs.src)
        return [
            Alert(
                "heavy-hitter", src=obs.src, detail=f"{rate / 1e6:.0f} Mb/s over {self.window:g}s"
            )
        ]

    def tick(self, now: float) -> list[Alert]:
        return []
