"""Benign traffic that looks like attacks, all at once for 60 s on a real lab: no detector and
no lambda raises anything."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from taplab.detectors import catalog
from taplab.detectors.live import LiveDetection
from taplab.lab import Lab
from taplab.measure import node_ip
from taplab.topologies import registry
from taplab.traffic import benign, groundtruth, lookalike
from tests.conftest import needs, wait_for
from tests.test_detector_live import load_lambdas, run_lambdas

pytestmark = [pytest.mark.network, needs("ab", "iperf3")]
SECONDS = 60
WEB, SERVING, SILENT, GONE = "pod1", ["pod4", "pod5"], "pod6", ["10.244.1.200", "10.244.1.201"]


@pytest.fixture(scope="module")
def lab():
    with Lab("benign-detect") as lab:
        registry.build(lab, "cluster", nodes=1, pods=16)
        for pod in [WEB, *SERVING]:
            benign.http_server(lab, pod, port=80)
        yield lab


@pytest.fixture(scope="module")
def runs(lab):
    live = LiveDetection(lab, "node1", catalog.create()).start()
    generators = {
        "ab": lambda: lookalike.ab_load(lab, "pod2", WEB, concurrency=50, seconds=SECONDS),
        "scraper": lambda: lookalike.scraper(
            lab, "pod3", [WEB, *SERVING, SILENT, *GONE], seconds=SECONDS
        ),
        "retry": lambda: lookalike.retry_client(lab, "pod7", WEB, port=8443, seconds=SECONDS),
        "dns": lambda: lookalike.dns_client(
            lab, "pod8", ["pod9", "pod10", "pod11"], rate=200, seconds=SECONDS
        ),
        "backup": lambda: lookalike.backup_flow(lab, "pod12", WEB, seconds=SECONDS),
        "mesh": lambda: lookalike.mesh_checker(
            lab, ["pod13", "pod14", "pod15", "pod16"], seconds=SECONDS
        ),
    }
    with ThreadPoolExecutor(len(generators)) as pool:
        futures = {name: pool.submit(fn) for name, fn in generators.items()}
        while not all(f.done() for f in futures.values()):
            live.poll()
            time.sleep(0.2)
        truths = {name: f.result() for name, f in futures.items()}
    end = time.time()
    lab.sh("pod2", ["ping", "-c", "1", "-W", "2", node_ip(lab, WEB)])  # a packet to wait for
    wait_for(
        lambda: live.poll() or any(o.time >= end for o in live.observations[-20:]),
        timeout=30,
        what="the sensor to catch up",
    )
    time.sleep(3.5)  # anything unanswered times out
    live.poll()
    live.stop()
    return truths, live.detections, live.observations


def test_every_generator_ran_for_60_s_and_wrote_benign_ground_truth(lab, runs):
    truths, _detections, _obs = runs
    for name, truth in truths.items():
        assert truth.end - truth.start >= SECONDS - 1, name
        assert not truth.malicious
    assert truths["ab"].details["complete"] > 20 * SECONDS
    scraped = truths["scraper"].details
    assert scraped["rounds"] >= SECONDS - 5
    assert scraped["ok"] > 0 and scraped["refused"] > 0 and scraped["timeout"] > 0
    assert truths["retry"].details["refused"] >= SECONDS - 5
    assert truths["dns"].details["answered"] >= 0.9 * truths["dns"].details["sent"] > 1000
    assert truths["backup"].rate > 10
    assert all(m["ok"] >= 3 * (SECONDS - 5) for m in truths["mesh"].details["members"].values())
    kinds = {t["kind"] for t in groundtruth.load(groundtruth.folder(lab))}
    assert kinds >= {"ab", "scraper", "retry", "dns", "backup", "mesh-health"}


def test_no_detector_and_no_lambda_raises_anything(runs):
    _truths, detections, observations = runs
    assert len(observations) > 100_000
    assert [(d.detector, d.alert.name, d.alert.src, d.alert.detail) for d in detections] == []
    actions = run_lambdas(load_lambdas(), observations, time.time())
    assert [repr(a) for a in actions] == []
