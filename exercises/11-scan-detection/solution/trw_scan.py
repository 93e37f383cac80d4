# lambda
"""Exercise 11, solution: port-scan detection with a threshold random walk (TRW).

Every first contact from a source (a new host:port) succeeds (SYN-ACK) or fails
(RST, or no answer within 3 s). TRW multiplies the source's likelihood ratio by
THETA1/THETA0 on a success and (1-THETA1)/(1-THETA0) on a failure: at ETA1 the
source is a scanner, at ETA0 it is benign and the walk restarts. Like many real
detectors, this one forgets a source FORGET seconds after its last contact.
"""

from taplab.detectors.attempts import AttemptTracker
from taplab.detectors.observation import from_event
from taplab.lambdas import Alert, on

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
        ratio *= THETA1 / THETA0 if outcome.ok else (1 - THETA1) / (1 - THETA0)
        if ratio >= ETA1:
            ctx.store.set(("scanner", src), True)
            alerts.append(
                Alert(
                    "scan", src=src, dst=outcome.key[0], detail=f"TRW likelihood ratio {ratio:.0f}"
                )
            )
        ctx.store.set(("ratio", src), 1.0 if ratio <= ETA0 else ratio, ttl=FORGET)
    return alerts
