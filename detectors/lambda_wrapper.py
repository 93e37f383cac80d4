"""Detectors as lambdas: one function turning events into observations and alerts into actions.

    scan = detector_lambda(ThresholdRandomWalk(), block_seconds=30)

The function handles ``packet_in`` and ``tap`` events (as observations) and
``timer`` events (time passes: silent probes time out, CUSUM closes its
intervals). Each alert is returned, followed by a ``Block`` of its source when
block_seconds is set. The detector keeps its state in the lambda's worker.
"""

from taplab.detectors.observation import from_event
from taplab.lambdas import Block, on


def detector_lambda(detector, block_seconds: int | None = None):
    @on("packet_in", "tap", "timer")
    def handle(event, ctx):
        if event.kind == "timer":
            alerts = detector.tick(event.time)
        else:
            obs = from_event(event)
            alerts = detector.observe(obs) if obs is not None else []
        actions = []
        for alert in alerts:
            actions.append(alert)
            if block_seconds and alert.src:
                actions.append(Block(src=alert.src, seconds=block_seconds))
        return actions

    handle.__name__ = handle.__qualname__ = detector.name.replace("-", "_")
    return handle
