# lambda
"""Exercise 11: port-scan detection with a threshold random walk (TRW).

Every first contact from a source (a new host:port) succeeds (SYN-ACK) or fails
(RST, or no answer within 3 s). TRW multiplies the source's likelihood ratio by
THETA1/THETA0 on a success and (1-THETA1)/(1-THETA0) on a failure: at ETA1 the
source is a scanner, at ETA0 it is benign and the walk restarts. Like many real
detectors, this one forgets a source FORGET seconds after its last contact.
Load it: sudo taplab exercise run 11 trw_scan.py
"""

from taplab.detectors.attempts import AttemptTracker
from taplab.detectors.observation import from_event
from taplab.lambdas import Alert, on  # noqa: F401 - Alert: TODO 2

THETA0, THETA1 = 0.8, 0.2  # chance that a first contact succeeds: benign host, scanner
ETA1 = 0.99 / 0.01  # detection / false-positive rate: flag a scanner at this ratio
ETA0 = (1 - 0.99) / (1 - 0.01)  # ... and clear a benign host at this one
FORGET = 2.0  # seconds

tracker = AttemptTracker(timeout=3.0)  # first contacts -> outcomes (kept in the worker)


@on("packet_in", "timer")
def trw(event, ctx):
    if event.kind == "timer":
        outcomes = tracker.expire(event.time)
    else:
        observation = from_event(event)
        outcomes = tracker.observe(observation)[1] if observation else []
    alerts = []
    for outcome in outcomes:
        src = outcome.src
        if ("scanner", src) in ctx.store:
            continue
        ratio = ctx.store.get(("ratio", src), 1.0)
        # TODO 1: take one step of the walk: multiply ratio by THETA1/THETA0 when
        #         outcome.ok, by (1-THETA1)/(1-THETA0) when it failed.
        # TODO 2: at ETA1 or above: remember src as a scanner in ctx.store and append
        #         Alert("scan", src=src, dst=outcome.key[0], detail=...) to alerts.
        # TODO 3: store the ratio (1.0 again at ETA0 or below) with ttl=FORGET.
        ctx.store.set(("ratio", src), ratio, ttl=FORGET)
    return alerts
