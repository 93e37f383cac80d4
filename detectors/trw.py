"""Threshold random walk (TRW) scan detection.

Algorithm: Jung, Paxson, Berger, Balakrishnan, "Fast Portscan Detection Using
Sequential Hypothesis Testing", IEEE S&P 2004. Each source's first contacts
are Bernoulli trials: a benign host succeeds with probability ``theta0``, a
scanner with ``theta1``. The likelihood ratio Lambda starts at 1 and is
multiplied by ``theta1/theta0`` on a success and ``(1-theta1)/(1-theta0)`` on a
failure. Lambda >= eta1 = detection/false_positive flags a scanner; Lambda <=
eta0 = (1-detection)/(1-false_positive) declares the host benign and the walk
restarts.

With the defaults (0.8, 0.2, 0.99, 0.01) a failure multiplies Lambda by 4 and
a success by 1/4, eta1 = 99 and eta0 ~ 0.0101: four failed first contacts flag
a scanner, four successes clear a host.

Parameters: theta0, theta1, detection, false_positive as above; ``timeout``:
seconds without an answer that count as a failure. Unlike the paper, which
counts distinct hosts, a first contact here is a (host, port) pair, so vertical
scans of one host are caught too, and stealth probes (FIN, NULL, Xmas, ACK ...)
are first contacts as well (``attempts``).

The alert is named after the scan's class (``scankind``: vertical-scan,
horizontal-sweep, stealth-scan) and names the real sender; with decoys, its
detail lists the addresses it forged (they got the replies' copies, the
sender's own interface sent every probe: ``binding``).
"""

from taplab.detectors.attempts import AttemptTracker, Outcome
from taplab.detectors.observation import Observation
from taplab.detectors.scankind import ScanProfile
from taplab.lambdas import Alert


class ThresholdRandomWalk:
    name = "trw"

    def __init__(
        self,
        theta0: float = 0.8,
        theta1: float = 0.2,
        detection: float = 0.99,
        false_positive: float = 0.01,
        timeout: float = 3.0,
    ):
        self.on_success = theta1 / theta0
        self.on_failure = (1 - theta1) / (1 - theta0)
        self.eta1 = detection / false_positive
        self.eta0 = (1 - detection) / (1 - false_positive)
        self.attempts = AttemptTracker(timeout)
        self.profile = ScanProfile()
        self.ratio: dict[str, float] = {}
        self.scanners: set[str] = set()
        self.cleared: set[str] = set()

    def observe(self, obs: Observation) -> list[Alert]:
        _key, outcomes = self.attempts.observe(obs)
        return self._walk(outcomes)

    def tick(self, now: float) -> list[Alert]:
        return self._walk(self.attempts.expire(now))

    def _walk(self, outcomes: list[Outcome]) -> list[Alert]:
        alerts = []
        for out in outcomes:
            if out.src in self.scanners:
                continue
            if not out.ok:
                self.profile.add(out)
            ratio = self.ratio.get(out.src, 1.0) * (self.on_success if out.ok else self.on_failure)
            if ratio >= self.eta1:
                self.scanners.add(out.src)
                kind, saw = self.profile.describe(out.src)
                decoys = self.attempts.binding.decoys(out.src)
                forged = f"; decoys {', '.join(decoys)} (forged by it)" if decoys else ""
                alerts.append(
                    Alert(
                        kind,
                        src=out.src,
                        dst=out.key[0],
                        detail=f"{saw}; TRW likelihood ratio {ratio:.0f} >= "
                        f"{self.eta1:.0f}{forged}",
                    )
                )
            elif ratio <= self.eta0:
                self.cleared.add(out.src)
                ratio = 1.0
            self.ratio[out.src] = ratio
        return alerts
