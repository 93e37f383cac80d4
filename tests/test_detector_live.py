"""Detectors and their lambdas on a live capture in a real lab: real nmap, hping3, iperf3, HTTP."""

import json
import time
from pathlib import Path

import pytest

from taplab import capabilities, detectors
from taplab.controllers.lambda_worker import handlers_of
from taplab.detectors import catalog
from taplab.detectors.live import LiveDetection
from taplab.detectors.scoring import score
from taplab.lab import Lab
from taplab.lambdas import Alert, Block, Event
from taplab.measure import node_ip
from taplab.topologies import registry
from taplab.traffic import benign, flood, groundtruth, scan
from tests.conftest import needs, wait_for

pytestmark = [pytest.mark.network, needs("nmap", "hping3", "iperf3")]
LAMBDAS = ("lambda_scan.py", "lambda_synflood.py", "lambda_baselines.py")


@pytest.fixture(scope="module")
def lab():
    with Lab("detect-test") as lab:
        registry.build(lab, "cluster", nodes=1, pods=4)
        benign.http_server(lab, "pod2", port=80, error_ratio=0.1)
        yield lab


def load_lambdas() -> list:
    """The lambda files' functions, loaded the way the lambda server loads them (each
    once: a function registered for several kinds is listed under each)."""
    folder = Path(detectors.__path__[0])
    functions = {
        fn: None
        for name in LAMBDAS
        for fns in handlers_of(name, (folder / name).read_text()).values()
        for fn in fns
        if "tap" in fn.__taplab_kinds__
    }
    return list(functions)


def run_lambdas(functions: list, observations, until: float) -> list:
    """Every action the lambdas return for the observations as tap events, plus timer ticks."""
    actions, last_tick = [], None
    for obs in observations:
        event = Event(
            "tap",
            obs.time,
            src=obs.src,
            dst=obs.dst,
            data={
                "proto": obs.proto,
                "sport": obs.sport,
                "dport": obs.dport,
                "flags": obs.flags,
                "len": obs.length,
                "mac": obs.mac,
            },
        )
        for fn in functions:
            actions += fn(event, None) or []
        if last_tick is None or obs.time - last_tick >= 0.2:
            last_tick = obs.time
            actions += [a for fn in functions for a in fn(Event("timer", obs.time), None) or []]
    actions += [a for fn in functions for a in fn(Event("timer", until), None) or []]
    return actions


def live(lab) -> LiveDetection:
    return LiveDetection(
        lab, "node1", catalog.create(), ebpf=capabilities.available("tc_bpf")
    ).start()


def settle(detection: LiveDetection, after: float) -> None:
    """Poll until the sensor has printed packets newer than after (its output is buffered)."""
    wait_for(
        lambda: (
            detection.poll()
            or (detection.observations and detection.observations[-1].time >= after)
        ),
        timeout=10,
        what="the sensor to catch up",
    )
    time.sleep(0.3)
    detection.poll()


def test_benign_iperf3_http_load_and_busy_client_raise_no_alert(lab):
    detection = live(lab)
    truths = [
        benign.iperf_flow(lab, "pod3", "pod2", seconds=2, rate="20M"),
        benign.http_load(lab, "pod3", "pod2", rate=100, concurrency=10, seconds=2),
        benign.busy_client(lab, "pod4", "pod2", rate=100, seconds=2),
    ]
    # Time passes so that unanswered probes would have timed out.
    benign.http_load(lab, "pod4", "pod2", rate=20, concurrency=2, seconds=4)
    settle(detection, truths[-1].end)
    detection.stop()
    observations = detection.observations
    assert sum(o.pure_syn for o in observations) >= 200  # the busy client's connections
    assert detection.detections == []
    assert run_lambdas(load_lambdas(), observations, time.time()) == []
    assert truths[1].details["status"]["500"] > 0 and truths[2].details["connections"] >= 150
    written = groundtruth.load(groundtruth.folder(lab))
    assert {t["kind"] for t in written} >= {"iperf3", "http", "busy"}
    assert all(not t["malicious"] and t["end"] > t["start"] and t["command"] for t in written)


def test_real_nmap_scan_and_hping3_flood_are_detected_naming_their_sources(lab):
    scanner, flooder = node_ip(lab, "pod1"), node_ip(lab, "pod4")
    detection = live(lab)
    # No open port among these: every probe before the alert hits a closed one.
    scan_truth = scan.nmap_scan(lab, "pod1", "pod2", kind="sS", timing="T4", ports="1000-1200")
    flood_truth = flood.syn_flood(lab, "pod4", "pod2", port=80, rate=1000, seconds=2, tool="hping3")
    settle(detection, flood_truth.end)
    detection.stop()
    truths = [scan_truth.as_dict(), flood_truth.as_dict()]
    by_detector = {
        d.detector: [x for x in detection.detections if x.detector == d.detector]
        for d in detection.detections
    }
    trw = by_detector["trw"]
    assert [d.alert.src for d in trw] == [scanner]
    assert score(trw, truths[:1], detection.observations)["closed_probes"] <= 5
    # CUSUM may also flag the scan's burst of SYNs: that alert names the scanner.
    for name in ["cusum"] + (["cusum-ebpf"] if capabilities.available("tc_bpf") else []):
        assert {d.alert.src for d in by_detector[name]} <= {scanner, flooder}
        floods = [d for d in by_detector[name] if d.alert.src == flooder]
        assert floods and floods[0].time - flood_truth.start <= 1.0
    for dets in by_detector.values():
        assert score(dets, truths, detection.observations)["false_positives"] == 0

    actions = run_lambdas(load_lambdas(), detection.observations, time.time())
    alerts = [a for a in actions if isinstance(a, Alert)]
    assert {a.src for a in alerts} == {scanner, flooder}
    assert [a.src for a in alerts if a.name == "vertical-scan"] == [scanner]
    assert flooder in {a.src for a in alerts if a.name == "syn-flood"}
    assert {b.src for b in actions if isinstance(b, Block)} == {scanner, flooder}
    for truth in (scan_truth, flood_truth):
        files = list(groundtruth.folder(lab).glob(f"{truth.kind}-*.json"))
        assert any(json.loads(f.read_text())["command"] == truth.command for f in files)


def test_scapy_flood_and_scapy_scanner_are_detected(lab):
    attacker = node_ip(lab, "pod3")
    detection = LiveDetection(lab, "node1", catalog.create(["trw", "cusum"])).start()
    scan_truth = scan.scapy_scan(lab, "pod3", "pod2", ports="1000-1030", rate=200)
    flood_truth = flood.syn_flood(lab, "pod3", "pod2", port=81, rate=300, seconds=2, tool="scapy")
    settle(detection, flood_truth.end)
    detection.stop()
    assert scan_truth.details["result"]["closed"] == 31
    assert flood_truth.details["sent"] > 200
    names = {(d.detector, d.alert.src) for d in detection.detections}
    assert ("trw", attacker) in names and ("cusum", attacker) in names
