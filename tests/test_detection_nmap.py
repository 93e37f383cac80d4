"""Every nmap technique and evasion, each from its own pod, on a real lab: detected, the
real attacker named, decoys and the zombie never blamed, and the scan lambda blocks only
attackers."""

import time

import pytest

from taplab import capabilities
from taplab.detectors import catalog
from taplab.detectors.live import LiveDetection
from taplab.lab import Lab
from taplab.lambdas import Block
from taplab.measure import node_ip
from taplab.topologies import registry
from taplab.traffic import benign, scan
from taplab.traffic.scan import Evasion
from tests.conftest import needs, wait_for
from tests.test_detector_live import load_lambdas, run_lambdas

pytestmark = [pytest.mark.network, needs("nmap")]
PORTS = "1000-1011,80"  # 12 closed ports and the open web port
LIVE, DEAD = (
    "10.244.1.16/28",
    "10.244.1.32/28",
)  # pods, and addresses of none
CASES = {  # name: nmap_scan keywords
    "sS": {"kind": "sS"},
    "sT": {"kind": "sT"},
    "sU": {"kind": "sU", "ports": "1000-1007"},
    "sA": {"kind": "sA"},
    "sW": {"kind": "sW"},
    "sM": {"kind": "sM"},
    "sN": {"kind": "sN"},
    "sF": {"kind": "sF"},
    "sX": {"kind": "sX"},
    "sO": {"kind": "sO", "ports": "1-20"},
    "sY": {"kind": "sY"},
    "sI": {"kind": "sI", "zombie": "pod3"},
    "sn-PS": {"kind": "sn", "ping": ["PS80", "PE"], "sweep": DEAD},
    "sn-PA-PU-PP": {"kind": "sn", "ping": ["PA80", "PU53", "PP"], "sweep": DEAD},
    "horizontal": {"kind": "sS", "ports": "22", "sweep": LIVE},
    "randomize-hosts": {
        "kind": "sS",
        "ports": "22",
        "sweep": LIVE,
        "evasion": Evasion(randomize_hosts=True),
    },
    "decoy": {"kind": "sS", "evasion": Evasion(decoys=["pod3", "10.244.1.200"])},
    "decoy-RND": {"kind": "sF", "evasion": Evasion(decoys=["RND:4"])},
    "fragments": {"kind": "sS", "evasion": Evasion(fragment=True)},
    "mtu": {"kind": "sX", "evasion": Evasion(mtu=16)},
    "source-port-53": {"kind": "sS", "evasion": Evasion(source_port=53)},
    "data-length": {"kind": "sN", "evasion": Evasion(data_length=40)},
    "T2-scan-delay": {
        "kind": "sS",
        "timing": "T2",
        "ports": "1000-1005",
        "evasion": Evasion(scan_delay="300ms"),
    },
    "T3": {"kind": "sA", "timing": "T3"},
    "T5-max-rate": {"kind": "sF", "timing": "T5", "evasion": Evasion(max_rate=50)},
}
TARGET, ZOMBIE = "pod1", "pod3"
STEALTH = ("sA", "sW", "sM", "sN", "sF", "sX")
FIRST_ATTACKER = 4  # pod4 onwards, one per case


@pytest.fixture(scope="module")
def lab():
    with Lab("nmap-detect") as lab:
        registry.build(lab, "cluster", nodes=1, pods=FIRST_ATTACKER - 1 + len(CASES))
        benign.http_server(lab, TARGET, port=80)
        yield lab


@pytest.fixture(scope="module")
def runs(lab):
    """Every case run once under one sensor: (attacker address, ground truth, detections,
    observations)."""
    live = LiveDetection(
        lab, "node1", catalog.create(), ebpf=capabilities.available("tc_bpf")
    ).start()
    truths = {}
    for i, (name, case) in enumerate(CASES.items()):
        case = dict(case)
        attacker = f"pod{FIRST_ATTACKER + i}"
        target = case.pop("sweep", TARGET)
        case.setdefault("ports", None if case["kind"] in ("sn", "sO") else PORTS)
        truths[name] = scan.nmap_scan(lab, attacker, target, limit=120, **case)
        live.poll()
    end = time.time()
    wait_for(
        lambda: live.poll() or live.observations[-1].time >= end,
        timeout=15,
        what="the sensor to catch up",
    )
    time.sleep(3.5)  # unanswered probes time out (3 s)
    live.poll()
    live.stop()
    return truths, live.detections, live.observations


@pytest.mark.parametrize("name", list(CASES))
def test_each_technique_is_detected_naming_the_real_attacker(lab, runs, name):
    truths, detections, _obs = runs
    truth = truths[name]
    attacker = truth.attacker_ips[0]
    window = [d for d in detections if truth.start <= d.time <= truth.end + 5]
    named = {(d.detector, d.alert.name) for d in window if d.alert.src == attacker}
    assert any(det == "trw" for det, _ in named), (
        f"{truth.command}: no TRW alert naming {attacker}; alerts: "
        + "; ".join(f"{d.detector} {d.alert.name} {d.alert.src}" for d in window)
    )
    kind = truth.details["scan"]
    expected = (
        "stealth-scan"
        if kind in STEALTH or truth.details["evasion"]["fragment"]
        else "horizontal-sweep"
        if truth.targets != [node_ip(lab, TARGET)]
        else "vertical-scan"
    )
    assert ("trw", expected) in named, truth.command
    innocent = {node_ip(lab, TARGET), node_ip(lab, ZOMBIE), *truth.details["decoys"]}
    assert not [d for d in detections if d.alert.src in innocent], truth.command


def test_the_scan_lambda_blocks_only_attackers(lab, runs):
    truths, _detections, observations = runs
    attackers = {t.attacker_ips[0] for t in truths.values()}
    actions = run_lambdas(load_lambdas()[:1], observations, time.time())
    blocked = {a.src for a in actions if isinstance(a, Block)}
    assert blocked == attackers
