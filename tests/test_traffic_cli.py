"""``taplab traffic`` on a running lab: benign generators write ground truth."""

import json

import pytest

from taplab.lab import Lab
from taplab.topologies import registry
from taplab.traffic import groundtruth
from tests.conftest import needs, taplab

pytestmark = [pytest.mark.network, needs("iperf3")]


@pytest.fixture(scope="module")
def lab():
    with Lab("traffic-cli-test") as lab:
        registry.build(lab, "cluster", nodes=1, pods=3)
        yield lab


def test_every_benign_generator_writes_ground_truth(lab, tmp_path):
    runs = [
        ("iperf", "pod1", "pod2", "--time", "1", "--rate", "10M"),
        ("http", "pod1", "pod2", "--time", "1", "--rate", "50", "--error-ratio", "0.5"),
        ("busy", "pod3", "pod2", "--time", "1", "--rate", "50"),
    ]
    for args in runs:
        result = taplab("traffic", *args, "--lab", lab.id, "--out", str(tmp_path), "--json")
        assert result.returncode == 0, result.stderr
    truths = groundtruth.load(tmp_path)
    assert [t["kind"] for t in truths] == ["iperf3", "http", "busy"]
    assert groundtruth.load(groundtruth.folder(lab)) == truths
    iperf, http, busy = truths
    assert 5 < iperf["rate"] < 15  # Mb/s measured against the 10M asked for
    assert http["details"]["status"]["500"] > 5 and http["details"]["status"]["200"] > 5
    assert http["details"]["connections"] == 20  # keep-alive: one per worker
    assert busy["details"]["connections"] == busy["details"]["requests"] >= 40
    assert all(
        t["targets"]
        == [
            json.loads(lab.sh("pod2", ["ip", "-j", "-4", "addr", "show", "scope", "global"]))[0][
                "addr_info"
            ][0]["local"]
        ]
        for t in truths
    )
    assert not any(t["malicious"] for t in truths)


@needs("ab")
def test_the_lookalike_generators_run_from_the_command_line(lab, tmp_path):
    runs = [
        ("ab", "pod1", "pod2", "--concurrency", "5"),
        ("retry", "pod3", "pod2"),
        ("dns", "pod1", "pod2,pod3", "--rate", "50"),
        ("scraper", "pod1", "pod3,10.244.1.250"),
        ("mesh", "pod1,pod3"),
    ]
    for args in runs:
        result = taplab(
            "traffic", *args, "--time", "3", "--lab", lab.id, "--out", str(tmp_path), "--json"
        )
        assert result.returncode == 0, result.stderr
    truths = {t["kind"]: t for t in groundtruth.load(tmp_path)}
    assert set(truths) >= {"ab", "retry", "dns", "scraper", "mesh-health"}
    assert not any(t["malicious"] for t in truths.values())
    assert truths["ab"]["details"]["complete"] > 10 and truths["ab"]["rate"] > 3
    assert truths["retry"]["details"]["refused"] >= 2 and truths["retry"]["ports"] == [8443]
    assert truths["dns"]["details"]["answered"] >= 100
    assert truths["scraper"]["details"]["timeout"] >= 2  # the address of no pod
    assert truths["scraper"]["details"]["refused"] >= 2  # pod3 serves nothing on 80


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["traffic", "http", "pod1", "pod2", "--error-ratio", "2"],
            "--error-ratio must be between",
        ),
        (["traffic", "busy", "pod1", "pod2", "--rate", "0"], "--rate must be positive"),
        (["traffic", "iperf", "pod1", "ghost"], "no node named 'ghost'"),
        (["traffic", "scraper", "pod1", "pod2,nowhere"], "neither a node"),
        (["traffic", "dns", "pod1", "pod2", "--rate", "-1"], "--rate must be positive"),
    ],
)
def test_bad_input_is_one_sentence_and_exit_2(lab, args, message):
    result = taplab(*args, "--lab", lab.id)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
