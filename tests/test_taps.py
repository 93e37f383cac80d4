"""Every tap kind on a real network: exact counts, collector decoding, nothing left behind."""

import time

import pytest

from taplab.lab import Lab
from taplab.taps import session, testbed
from taplab.taps.pcapfile import count
from tests.conftest import needs, wait_for
from tests.tap_helpers import DPORT, FAKE, burst, leftovers, prog_ids, quiet

pytestmark = needs("vxlan", "tcpdump")

BURST = 300

# kind, options, the VNI it sends with (None: not a mirroring kind)
KINDS = [
    pytest.param("sidecar", {"vni": 4001}, 4001, id="sidecar"),
    pytest.param("tc-mirred", {"vni": 4002}, 4002, id="tc-mirred"),
    pytest.param(
        "ebpf", {"vni": 4003, "mirror": "all"}, 4003, id="ebpf", marks=needs("bcc", "tc_bpf")
    ),
    pytest.param(
        "xdp-flowtable", {"interval": 0.2}, None, id="xdp-flowtable", marks=needs("bcc", "xdp")
    ),
    pytest.param("pcap", {}, None, id="pcap"),
]


@pytest.fixture(scope="module")
def lab():
    with Lab("tap-test") as lab:
        testbed.build(lab)
        yield lab


@pytest.mark.parametrize("kind, options, vni", KINDS)
def test_exact_count_decoding_and_clean_detach(lab, kind, options, vni):
    record = session.attach(
        lab, "client", kind, collector="collector", collector_pcap=True, **options
    )
    [prog] = prog_ids(lab, [record]) or [None]
    try:
        before = quiet(lab, record["id"])
        burst(lab, BURST)
        wait_for(
            lambda: session.stats(lab, record["id"])["packets"] - before["packets"] >= BURST,
            timeout=30,
            what=f"{kind} to count the burst",
        )
        after = session.stats(lab, record["id"])
        assert after["packets"] - before["packets"] == BURST
        if vni is not None:
            wait_for(
                lambda: (
                    session.stats(lab, record["id"])["collector"].get("vnis", {}).get(str(vni), 0)
                    - before["collector"].get("vnis", {}).get(str(vni), 0)
                    >= BURST
                ),
                timeout=30,
                what="the collector to decode the burst",
            )
            flows = session.stats(lab, record["id"])["collector"]["flows"]
            ours = [f for f in flows if f["dst"] == FAKE[0]]
            assert [(f["vni"], f["packets"]) for f in ours] == [(vni, BURST)]
            assert_every_inner_packet(lab.meta["collectors"]["collector"]["pcap"])
    finally:
        session.detach(lab, record["id"])
    wait_for(lambda: not leftovers(lab, record, prog), timeout=10, what="cleanup")
    assert "collectors" not in lab.meta or not lab.meta["collectors"]


def assert_every_inner_packet(pcap: str) -> None:
    from scapy.all import UDP, rdpcap

    wait_for(lambda: count(pcap)[0] >= BURST, timeout=10, what="the collector's pcap")
    payloads = [bytes(p[UDP].payload) for p in rdpcap(pcap) if UDP in p and p[UDP].dport == DPORT]
    assert sorted(payloads) == [b"seq%06d" % i for i in range(BURST)]


@needs("bcc", "xdp")
def test_flow_table_keeps_a_recent_flow_and_overwrites_a_stale_one(lab):
    """One slot: a colliding flow is counted as a collision while the first is recent
    (2 s), and takes the slot over once it is not."""
    record = session.attach(lab, "client", "xdp-flowtable", slots=1, interval=0.2)
    try:
        quiet(lab, record["id"])
        burst(lab, {7001: 10, 7002: 5})
        stats = wait_for(
            lambda: (s := session.stats(lab, record["id"]))["collisions"] >= 5 and s,
            timeout=10,
            what="the collisions",
        )
        assert stats["collisions"] == 5 and stats["overwrites"] == 0
        assert [(f["dport"], f["packets"]) for f in stats["flows"]] == [(7001, 10)]
        time.sleep(2.2)  # the slot's flow is no longer recent (the program's 2 s rule)
        burst(lab, {7002: 3})
        stats = wait_for(
            lambda: (s := session.stats(lab, record["id"]))["overwrites"] and s,
            timeout=10,
            what="the overwrite",
        )
        assert [(f["dport"], f["packets"]) for f in stats["flows"]] == [(7002, 3)]
        assert stats["collisions"] == 5
    finally:
        session.detach(lab, record["id"])


@needs("bcc", "tc_bpf")
def test_ebpf_flow_map_reports_occupancy_and_evictions(lab):
    record = session.attach(lab, "client", "ebpf", flows=4, interval=0.2)
    try:
        before = quiet(lab, record["id"])
        burst(lab, {port: 1 for port in range(7100, 7110)})  # ten flows, one frame each
        stats = wait_for(
            lambda: (
                (s := session.stats(lab, record["id"]))["flow_map"]["inserted"]
                - before["flow_map"]["inserted"]
                >= 10
                and s
            ),
            timeout=10,
            what="the flows to be inserted",
        )
        flow_map = stats["flow_map"]
        assert flow_map["occupancy"] <= 4 == flow_map["capacity"]
        assert flow_map["evictions"] == flow_map["inserted"] - flow_map["occupancy"] >= 6
        udp = stats["protocols"]["udp"]["packets"] - before["protocols"]["udp"]["packets"]
        assert udp == 10
    finally:
        session.detach(lab, record["id"])


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param("ebpf", marks=needs("bcc", "tc_bpf")),
        pytest.param("xdp-flowtable", marks=needs("bcc", "xdp")),
    ],
)
def test_a_running_bpf_tap_holds_no_compiler(lab, kind):
    """Compiled once, then read by a small process: under 30 MB, no libbcc mapped."""
    record = session.attach(lab, "client", kind, interval=0.2)
    try:
        before = quiet(lab, record["id"])
        burst(lab, 50)
        stats = wait_for(
            lambda: (
                (s := session.stats(lab, record["id"]))["packets"] - before["packets"] >= 50 and s
            ),
            timeout=20,
            what="the burst",
        )
        assert stats["mem_mb"] < 30, stats["mem_mb"]
        [pid] = record["pids"]
        with open(f"/proc/{pid}/maps") as f:
            assert "libbcc" not in f.read()
    finally:
        session.detach(lab, record["id"])
