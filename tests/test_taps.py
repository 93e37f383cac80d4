"""Every tap kind on a real network: exact counts, collector decoding, nothing left behind."""

import json
import subprocess
import sys
import time

import pytest
from taplab.taps import session, testbed
from taplab.taps.pcapfile import count

from taplab.lab import Lab
from taplab.procs import ProcessId
from tests.conftest import needs, wait_for

pytestmark = needs("vxlan", "tcpdump")

BURST = 300
FAKE = ("10.0.0.77", "02:00:00:00:00:77")  # no such host: nothing answers the burst

# kind, options, the VNI it sends with (None: not a mirroring kind)
KINDS = [
    pytest.param("sidecar", {"vni": 4001}, 4001, id="sidecar"),
    pytest.param("tc-mirred", {"vni": 4002}, 4002, id="tc-mirred"),
    pytest.param("ebpf", {"vni": 4003, "mirror": "all"}, 4003, id="ebpf",
                 marks=needs("bcc", "tc_bpf")),
    pytest.param("xdp-flowtable", {"interval": 0.2}, None, id="xdp-flowtable",
                 marks=needs("bcc", "xdp")),
    pytest.param("pcap", {}, None, id="pcap"),
]


@pytest.fixture(scope="module")
def lab():
    with Lab("tap-test") as lab:
        testbed.build(lab)
        yield lab


def burst(lab, n: int, dport: int = 7000) -> None:
    """n UDP frames from the client, payload = their sequence number, sent with scapy."""
    code = (
        "from scapy.all import Ether, IP, UDP, Raw, sendp\n"
        f"frames = [Ether(dst='{FAKE[1]}') / IP(src='10.0.0.1', dst='{FAKE[0]}') / "
        f"UDP(sport=5555, dport={dport}) / Raw(b'seq%06d' % i) for i in range({n})]\n"
        "sendp(frames, iface='client-eth0', verbose=False)\n")
    subprocess.run(["ip", "netns", "exec", lab.netns("client"), sys.executable, "-c", code],
                   check=True, timeout=120)


def quiet(lab, tap_id: str) -> dict:
    """The tap's stats once nothing has crossed it for a second (set-up chatter is over)."""
    last = [session.stats(lab, tap_id)]

    def settled():
        time.sleep(1.0)
        now = session.stats(lab, tap_id)
        same = now["packets"] == last[0]["packets"]
        last[0] = now
        return now if same else None
    return wait_for(settled, timeout=20, what="the network to be quiet")


def leftovers(lab, record: dict) -> list[str]:
    """What of a detached tap still exists in its node."""
    node, intf = record["target"]["node"], record["target"]["intf"]
    left = []
    qdiscs = json.loads(lab.sh(node, ["tc", "-j", "qdisc", "show", "dev", intf]) or "[]")
    left += [f"qdisc {q['kind']}" for q in qdiscs if q["kind"] in ("clsact", "ingress")]
    for hook in ("ingress", "egress"):
        out = lab.sh(node, ["tc", "-j", "filter", "show", "dev", intf, hook], check=False)
        left += [f"{hook} filter" for _ in json.loads(out or "[]")] if out.startswith("[") else []
    links = json.loads(lab.sh(node, ["ip", "-j", "-d", "link", "show"]))
    left += [f"link {ln['ifname']}" for ln in links if ln["ifname"].startswith("vx")]
    left += [f"xdp on {ln['ifname']}" for ln in links if "xdp" in ln]
    progs = subprocess.run(["bpftool", "-j", "prog", "list"], capture_output=True, text=True)
    ours = {"taplab_tap", "taplab_xdp_ft"}
    left += [f"bpf prog {p['name']}" for p in json.loads(progs.stdout or "[]")
             if p.get("name") in ours]
    for r in record["resources"]:
        if r["kind"] == "process" and ProcessId(r["pid"], r["started"]).alive():
            left.append(f"process {r['pid']}")
    return left


@pytest.mark.parametrize("kind, options, vni", KINDS)
def test_exact_count_decoding_and_clean_detach(lab, kind, options, vni):
    record = session.attach(lab, "client", kind, collector="collector", collector_pcap=True,
                            **options)
    try:
        before = quiet(lab, record["id"])
        burst(lab, BURST)
        wait_for(lambda: session.stats(lab, record["id"])["packets"] - before["packets"] >= BURST,
                 timeout=30, what=f"{kind} to count the burst")
        after = session.stats(lab, record["id"])
        assert after["packets"] - before["packets"] == BURST
        if vni is not None:
            seen = wait_for(lambda: session.stats(lab, record["id"])["collector"]
                            .get("vnis", {}).get(str(vni), 0) - before["collector"]
                            .get("vnis", {}).get(str(vni), 0) >= BURST,
                            timeout=30, what="the collector to decode the burst")
            assert seen
            flows = session.stats(lab, record["id"])["collector"]["flows"]
            ours = [f for f in flows if f["dst"] == FAKE[0]]
            assert [(f["vni"], f["packets"]) for f in ours] == [(vni, BURST)]
            assert_every_inner_packet(lab.meta["collectors"]["collector"]["pcap"])
    finally:
        session.detach(lab, record["id"])
    assert wait_for(lambda: not leftovers(lab, record), timeout=10, what="cleanup") is True
    assert "collectors" not in lab.meta or not lab.meta["collectors"]


def assert_every_inner_packet(pcap: str) -> None:
    from scapy.all import UDP, rdpcap

    wait_for(lambda: count(pcap)[0] >= BURST, timeout=10, what="the collector's pcap")
    payloads = [bytes(p[UDP].payload) for p in rdpcap(pcap) if UDP in p and p[UDP].dport == 7000]
    assert sorted(payloads) == [b"seq%06d" % i for i in range(BURST)]
