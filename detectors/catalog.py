"""Every detector by name, and running them over an observation stream.

A detector has a ``name``, ``observe(obs) -> [Alert]`` and ``tick(now) ->
[Alert]`` (time passes with no packet). ``run`` stamps each alert with the
time it was raised, which scoring needs and ``Alert`` does not carry.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from taplab.detectors.cusum import CusumSynFlood
from taplab.detectors.fanout import FanOut
from taplab.detectors.heavy_hitter import HeavyHitter
from taplab.detectors.observation import Observation
from taplab.detectors.packet_flood import PacketFlood
from taplab.detectors.snort_like import SnortLikeScan
from taplab.detectors.trw import ThresholdRandomWalk
from taplab.detectors.zeek_like import ZeekLikeScan
from taplab.errors import UserError
from taplab.lambdas import Alert


class Detector(Protocol):
    name: str

    def observe(self, obs: Observation) -> list[Alert]: ...

    def tick(self, now: float) -> list[Alert]: ...


DETECTORS = {
    cls.name: cls
    for cls in (
        ThresholdRandomWalk,
        CusumSynFlood,
        ZeekLikeScan,
        SnortLikeScan,
        HeavyHitter,
        FanOut,
        PacketFlood,
    )
}


def create(names: Iterable[str] | None = None) -> list[Detector]:
    """Fresh detectors with default parameters (all of them when names is None)."""
    names = list(DETECTORS) if names is None else list(names)
    unknown = [n for n in names if n not in DETECTORS]
    if unknown:
        raise UserError(f"unknown detector '{unknown[0]}': choose from {', '.join(DETECTORS)}.")
    return [DETECTORS[n]() for n in names]


@dataclass(frozen=True)
class Detection:
    """An alert, the detector that raised it, and when."""

    time: float
    detector: str
    alert: Alert

    def as_dict(self) -> dict:
        return {
            "time": self.time,
            "detector": self.detector,
            "name": self.alert.name,
            "src": self.alert.src,
            "dst": self.alert.dst,
            "detail": self.alert.detail,
        }


def feed(detectors: list[Detector], obs: Observation) -> list[Detection]:
    """Give one observation to every detector; the detections it caused."""
    return [Detection(obs.time, d.name, a) for d in detectors for a in d.observe(obs)]


def tick(detectors: list[Detector], now: float) -> list[Detection]:
    return [Detection(now, d.name, a) for d in detectors for a in d.tick(now)]


def run(
    detectors: list[Detector],
    observations: Iterable[Observation],
    until: float | None = None,
    step: float = 0.1,
) -> list[Detection]:
    """Feed a whole stream, then let time run to ``until`` in steps; every detection."""
    detections, now = [], None
    for obs in observations:
        detections += feed(detectors, obs)
        now = obs.time
    if until is not None:
        now = until if now is None else now
        while now < until:
            now = min(until, now + step)
            detections += tick(detectors, now)
    return detections
