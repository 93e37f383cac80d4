"""``taplab tap`` as users run it, in a shell and in the lab CLI; bad input is one sentence."""

import json
import os

import pytest

from taplab.lab import Lab
from taplab.taps import testbed
from tests.conftest import needs, taplab
from tests.tap_helpers import leftovers

pytestmark = needs("vxlan", "tcpdump")


@pytest.fixture(scope="module")
def lab():
    with Lab("tap-cli") as lab:
        testbed.build(lab)
        yield lab


def tap(lab, *args: str):
    # A wide terminal, so that rich does not wrap a one-sentence error.
    return taplab("tap", *args, "--lab", lab.id, env={**os.environ, "COLUMNS": "400"})


def test_attach_list_stats_detach(lab):
    attached = tap(
        lab,
        "attach",
        "client",
        "--kind",
        "tc-mirred",
        "--collector",
        "collector",
        "--vni",
        "99",
        "--json",
    )
    assert attached.returncode == 0, attached.stderr
    record = json.loads(attached.stdout)
    assert record["target"]["intf"] == "client-eth0" and record["options"]["vni"] == 99
    listed = json.loads(tap(lab, "list", "--json").stdout)
    assert [t["id"] for t in listed] == [record["id"]]
    lab.sh("client", ["ping", "-c", "3", "-i", "0.2", "10.0.0.2"])
    stats = json.loads(tap(lab, "stats", record["id"], "--json").stdout)
    assert stats["packets"] >= 6  # three echo requests and three replies
    assert {"bytes", "drops", "cpu_pct", "mem_mb", "collector"} <= set(stats)
    human = tap(lab, "stats")
    assert human.returncode == 0 and record["id"] in human.stdout
    detached = tap(lab, "detach", record["id"])
    assert detached.returncode == 0, detached.stderr
    assert json.loads(tap(lab, "list", "--json").stdout) == []
    assert leftovers(lab, record) == []
    assert not lab.meta.get("collectors")


@pytest.mark.parametrize(
    "args, words",
    [
        (["attach", "nosuchpod", "--kind", "pcap"], "no node named 'nosuchpod'"),
        (["attach", "client:eth9", "--kind", "pcap"], "no interface 'eth9'"),
        (["attach", "client", "--kind", "sidecar"], "--collector NODE"),
        (["attach", "client", "--kind", "tc-mirred", "--collector", "nosuch"], "no node named"),
        (
            [
                "attach",
                "client",
                "--kind",
                "tc-mirred",
                "--collector",
                "collector",
                "--vni",
                "16777216",
            ],
            "--vni must be between 0 and 16777215",
        ),
        (["attach", "server", "--kind", "ebpf", "--flows", "0"], "--flows must be between"),
        (["detach", "tap999"], "no tap 'tap999'"),
        (["detach"], "--all"),
        (["stats", "tap999"], "no tap 'tap999'"),
    ],
)
def test_bad_input_is_one_sentence_and_leaves_nothing(lab, args, words):
    result = tap(lab, *args)
    assert result.returncode == 2
    assert words in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not lab.meta.get("taps") and not lab.meta.get("collectors")


def test_second_tap_on_one_interface_is_refused(lab):
    first = tap(lab, "attach", "client", "--kind", "pcap", "--json")
    try:
        again = tap(lab, "attach", "client", "--kind", "sidecar", "--collector", "collector")
        assert again.returncode == 2 and "already has tap" in again.stderr
        assert not lab.meta.get("collectors")
    finally:
        tap(lab, "detach", json.loads(first.stdout)["id"])


def test_tap_commands_in_the_lab_cli():
    result = taplab(
        "lab",
        "cluster",
        "--pods",
        "3",
        "--run",
        "tap attach pod1 --kind sidecar --collector pod3",
        "--run",
        "tap attach pod2 --kind ebpf",
        "--run",
        "pod1 ping -c 2 10.244.1.3",
        "--run",
        "tap stats",
        "--run",
        "tap list",
        "--run",
        "tap detach --all",
        "--run",
        "tap attach nosuchpod --kind pcap",
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "failed: tap attach nosuchpod --kind pcap" in result.stdout
    assert result.stdout.count("failed:") == 1, result.stdout + result.stderr
    assert "detached: tap1, tap2" in result.stdout
