"""The in-kernel stealth-scan path on a real lab: the eBPF counter on node1 counts nmap's
NULL, Xmas and FIN probes per sender, and ``stealth-ebpf`` names the real attacker (a
decoy scan too), while ordinary HTTP, ab and iperf3 between pods, a scraper and a retrying
client raise nothing from it."""

import time

import pytest

from taplab.detectors.cusum import CusumSynFlood
from taplab.detectors.live import kernel_detections, start_syn_counter
from taplab.detectors.stealth_counts import KINDS, KernelStealthScan
from taplab.lab import Lab
from taplab.measure import node_ip
from taplab.topologies import registry
from taplab.traffic import benign, lookalike, scan
from taplab.traffic.scan import Evasion
from tests.conftest import needs, wait_for

pytestmark = [pytest.mark.network, needs("tc_bpf", "bcc", "nmap", "iperf3")]
TARGET, CLIENT, DECOY = "pod1", "pod2", "pod6"
PORTS = "1000-1099"  # 100 ports each


@pytest.fixture(scope="module")
def lab():
    with Lab("stealth-ebpf") as lab:
        registry.build(lab, "cluster", nodes=1, pods=6)
        benign.http_server(lab, TARGET, port=80)
        yield lab


class KernelPath:
    """The counter on node1 and the detectors its rows feed."""

    def __init__(self, lab):
        self.counter = start_syn_counter(lab, "node1", interval=0.2)
        self.cusum, self.stealth = CusumSynFlood(), KernelStealthScan()
        self.rows, self.detections = [], []

    def settle(self, after: float) -> None:
        """Read rows until the counter has printed one from after the traffic ended."""

        def newer():
            rows = self.counter.rows()
            self.rows += rows
            for row in rows:
                self.detections += kernel_detections(row, self.cusum, self.stealth)
            return self.rows and self.rows[-1][0] > after + 0.5

        wait_for(newer, timeout=15, what="the counter to print rows after the traffic")
        self.counter.stop()


def test_null_xmas_and_fin_scans_are_flagged_naming_the_real_attacker(lab):
    path = KernelPath(lab)
    truths = {
        kind: scan.nmap_scan(lab, attacker, TARGET, kind, ports=PORTS, limit=120)
        for kind, attacker in (("sN", "pod3"), ("sX", "pod4"), ("sF", "pod5"))
    }
    decoyed = scan.nmap_scan(
        lab, "pod2", TARGET, "sF", ports=PORTS, limit=120, evasion=Evasion(decoys=[DECOY])
    )
    path.settle(decoyed.end)
    alerts = [d for d in path.detections if d.detector == "stealth-ebpf"]
    attackers = {k: t.attacker_ips[0] for k, t in truths.items()} | {"decoy": node_ip(lab, "pod2")}
    assert sorted(d.alert.src for d in alerts) == sorted(attackers.values()), alerts
    for kind, truth in [*truths.items(), ("decoy", decoyed)]:
        (det,) = [d for d in alerts if d.alert.src == attackers[kind]]
        assert det.alert.name == "stealth-scan" and det.alert.dst == node_ip(lab, TARGET)
        assert truth.start <= det.time <= truth.end + 1.0, (kind, det, truth.start, truth.end)
    technique = {"sN": "NULL", "sX": "Xmas", "sF": "FIN"}  # KINDS' names
    for kind, truth in truths.items():
        rows = [r for r in path.rows if r[1] == "stealth" and r[2] == truth.attacker_ips[0]]
        counts = {k: sum(r[4 + i] for r in rows) for i, k in enumerate(KINDS)}
        assert counts[technique[kind]] >= 100 and sum(counts.values()) == counts[technique[kind]]
        assert sum(r[8] for r in rows) >= 90  # closed ports answer with RSTs
    forged = [r for r in path.rows if r[1] == "stealth" and r[2] == node_ip(lab, "pod2")]
    assert sum(r[9] for r in forged) >= 100 and forged[-1][10] == node_ip(lab, DECOY)


def test_rsts_and_icmp_unreachables_back_to_a_prober_are_its_replies(lab):
    path = KernelPath(lab)
    target = node_ip(lab, TARGET)
    lab.sh("pod4", ["nmap", "-sN", "-n", "-Pn", "--max-retries", "0", "-p", "1000,1001", target])
    lab.sh("pod4", ["nmap", "-sU", "-n", "-Pn", "--max-retries", "0", "-p", "1002", target])
    path.settle(time.time())
    rows = [r for r in path.rows if r[1] == "stealth" and r[2] == node_ip(lab, "pod4")]
    assert sum(r[4] for r in rows) == 2  # two NULL probes, below the threshold
    assert sum(r[8] for r in rows) == 3  # two RSTs and one port unreachable
    assert [d for d in path.detections if d.detector == "stealth-ebpf"] == []


def test_a_fast_null_scan_is_counted_probe_for_probe(lab):
    """At tens of thousands of probes a second, where the packet sensor drops some, the
    kernel counts every probe (nmap without retries sends one per port)."""
    path = KernelPath(lab)
    started = time.time()
    lab.sh(
        "pod5",
        ["nmap", "-sN", "-n", "-Pn", "-T5", "--min-rate", "50000", "--max-retries", "0"]
        + ["-p", "1-30000", node_ip(lab, TARGET)],
    )
    path.settle(time.time())
    rows = [r for r in path.rows if r[1] == "stealth" and r[2] == node_ip(lab, "pod5")]
    assert sum(r[4] for r in rows) >= 30000 and sum(sum(r[5:8]) for r in rows) == 0
    (det,) = [d for d in path.detections if d.detector == "stealth-ebpf"]
    assert det.alert.src == node_ip(lab, "pod5") and det.time - started < 2.0


@needs("ab")
def test_ordinary_http_and_iperf3_raise_nothing_in_the_kernel_path(lab):
    path = KernelPath(lab)
    started = time.time()
    benign.iperf_flow(lab, CLIENT, TARGET, seconds=2, rate="20M")
    benign.http_load(lab, CLIENT, TARGET, rate=100, concurrency=10, seconds=3)
    lookalike.ab_load(lab, CLIENT, TARGET, concurrency=20, seconds=3)
    # A scraper polling pods that serve nothing and a client retrying a service that is down.
    lookalike.scraper(lab, "pod3", [TARGET, "pod4", "pod5"], seconds=3)
    last = lookalike.retry_client(lab, "pod6", TARGET, port=8443, seconds=3)
    path.settle(last.end)
    assert [r for r in path.rows if r[1] == "stealth"] == []
    assert [d for d in path.detections if d.detector == "stealth-ebpf"] == []
    assert any(r[2] > 0 for r in path.rows if r[1] != "stealth" and r[0] >= started)
