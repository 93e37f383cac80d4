"""Scoring detections against ground truth: detected, delay, true and false positives.

A detection is true when it names an attacker of a malicious ground-truth
record (or, for a spoofed attack, its target as destination) and was raised
between the attack's start and ``grace`` seconds after its end; any other
detection is a false positive. Delay is from the attack's start to the first
true detection, in seconds and in probes: the attacker's packets to its
targets observed in between (SYNs, UDP datagrams, echo and ARP requests).
"""

from collections.abc import Iterable

from taplab.detectors.catalog import Detection
from taplab.detectors.observation import Observation


def _matches(det: Detection, truth: dict, grace: float) -> bool:
    if not truth["start"] <= det.time <= truth["end"] + grace:
        return False
    if det.alert.src in truth["attacker_ips"]:
        return True
    return bool(truth.get("spoofed")) and det.alert.dst in truth["targets"]


def is_probe(obs: Observation, truth: dict) -> bool:
    """Whether obs is one of the attack's probes (or flood packets)."""
    if obs.src not in truth["attacker_ips"] and not truth.get("spoofed"):
        return False
    if obs.dst not in truth["targets"]:
        return False
    return obs.pure_syn or obs.proto == "udp" or obs.flags in ("echo", "who-has")


def score(detections: list[Detection], truths: list[dict],
          observations: Iterable[Observation] = (), grace: float = 5.0) -> dict:
    """The scenario's score for one detector's detections."""
    attacks = [t for t in truths if t.get("malicious")]
    true = [d for d in detections if any(_matches(d, t, grace) for t in attacks)]
    firsts = {}
    for truth in attacks:
        hits = [d.time for d in true if _matches(d, truth, grace)]
        if hits:
            firsts[id(truth)] = (truth, min(hits))
    delay = probes = None
    if firsts:
        truth, first = min(firsts.values(), key=lambda tf: tf[1] - tf[0]["start"])
        delay = round(max(0.0, first - truth["start"]), 3)
        probes = sum(1 for o in observations
                     if truth["start"] <= o.time <= first and is_probe(o, truth))
    return {"detected": bool(firsts) if attacks else None, "delay_s": delay, "probes": probes,
            "true_positives": len(true), "false_positives": len(detections) - len(true),
            "misses": len(attacks) - len(firsts)}
