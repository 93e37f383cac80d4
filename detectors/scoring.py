"""Scoring detections against ground truth: detected, delay, true and false positives.

A detection is true when it names an attacker of a malicious ground-truth
record (or, for a spoofed or distributed attack, names no source and its
target as destination) and was raised
between the attack's start and ``grace`` seconds after its end; any other
detection is a false positive. Delay is from the attack's start to the first
true detection, in seconds and in probes: the attacker's packets to its
targets observed in between (SYNs, UDP datagrams, echo and ARP requests), and
how many of those probes a closed port had rejected (RST, ICMP unreachable).
``source_named`` says whether a true detection named a real attacker (not
only the target of a spoofed attack).
"""

from taplab.detectors.attempts import HOST_REQUESTS
from taplab.detectors.catalog import Detection
from taplab.detectors.observation import Observation

STEALTH_SCANS = ("sA", "sW", "sM", "sN", "sF", "sX")


def matches(det: Detection, truth: dict, grace: float) -> bool:
    if not truth["start"] <= det.time <= truth["end"] + grace:
        return False
    if det.alert.src in truth["attacker_ips"]:
        return True
    many = bool(truth.get("spoofed")) or len(truth["attacker_ips"]) > 1
    return many and det.alert.src is None and det.alert.dst in truth["targets"]


def is_probe(obs: Observation, truth: dict) -> bool:
    """Whether obs is one of the attack's probes (or flood packets): what opens a first
    contact (``attempts``), or any TCP packet without SYN or RST of a stealth scan or
    non-SYN flood."""
    if obs.src not in truth["attacker_ips"] and not truth.get("spoofed"):
        return False
    if obs.dst not in truth["targets"]:
        return False
    stealthy = truth.get("details", {}).get("scan") in STEALTH_SCANS or (
        "flood" in truth["kind"] and "syn" not in truth["kind"]
    )
    return (
        obs.pure_syn
        or obs.proto in ("udp", "sctp", "ip")
        or obs.flags in HOST_REQUESTS
        or obs.rst
        and stealthy
        or (stealthy and obs.stealth)
    )


def closed_probes(observations: list[Observation], truth: dict, until: float) -> int:
    """The attack's port probes that closed ports rejected up to until."""
    sent, closed = set(), 0
    for obs in observations:
        if not truth["start"] <= obs.time <= until:
            continue
        if obs.dport is not None and is_probe(obs, truth):
            sent.add((obs.dst, obs.dport))
        elif (obs.rst or obs.flags == "unreach") and (obs.src, obs.sport) in sent:
            sent.discard((obs.src, obs.sport))
            closed += 1
    return closed


def score(
    detections: list[Detection],
    truths: list[dict],
    observations: list[Observation] = (),
    grace: float = 5.0,
) -> dict:
    """The scenario's score for one detector's detections."""
    attacks = [t for t in truths if t.get("malicious")]
    true = [d for d in detections if any(matches(d, t, grace) for t in attacks)]
    named = any(d.alert.src in t["attacker_ips"] for d in true for t in attacks)
    firsts = {}
    for truth in attacks:
        hits = [d.time for d in true if matches(d, truth, grace)]
        if hits:
            firsts[id(truth)] = (truth, min(hits))
    delay = probes = closed = None
    if firsts:
        truth, first = min(firsts.values(), key=lambda tf: tf[1] - tf[0]["start"])
        delay = round(max(0.0, first - truth["start"]), 3)
        probes = sum(
            1 for o in observations if truth["start"] <= o.time <= first and is_probe(o, truth)
        )
        closed = closed_probes(observations, truth, first)
    return {
        "detected": bool(firsts) if attacks else None,
        "delay_s": delay,
        "probes": probes,
        "closed_probes": closed,
        "source_named": named if attacks else None,
        "true_positives": len(true),
        "false_positives": len(detections) - len(true),
        "misses": len(attacks) - len(firsts),
    }
