"""The collector's decoding and counting, its pcap, and its process on a real network."""

import sys

import pytest
from scapy.all import IP, TCP, Ether, Raw, rdpcap

from taplab.lab import Lab
from taplab.shell import run
from taplab.taps import collector, testbed, vxlan
from taplab.taps.pcapfile import PcapWriter, count
from tests.conftest import needs, wait_for


def frame(src="10.0.0.1", dst="10.0.0.2", dport=80, payload=b"x") -> bytes:
    return bytes(Ether() / IP(src=src, dst=dst) / TCP(sport=1234, dport=dport) / Raw(payload))


def test_vxlan_header_round_trip_and_rejects():
    inner = frame()
    assert vxlan.decap(vxlan.header(42) + inner) == (42, inner)
    assert vxlan.decap(vxlan.header(2**24 - 1) + inner)[0] == 2**24 - 1
    assert vxlan.decap(b"\x00" * 8 + inner) is None  # the I flag is not set
    assert vxlan.decap(b"\x08\x00") is None
    assert vxlan.decap(vxlan.header(1) + b"short") is None  # no room for an Ethernet header
    with pytest.raises(ValueError):
        vxlan.header(2**24)


def test_flow_of():
    assert vxlan.flow_of(frame(dport=443)) == ("10.0.0.1", "10.0.0.2", 6, 1234, 443)
    assert vxlan.flow_of(bytes(Ether(type=0x0806) / Raw(b"\0" * 28))) is None


def test_counters_per_vni_and_flow():
    counters = collector.Counters()
    for i in range(5):
        counters.add(vxlan.header(7) + frame(dport=80, payload=b"a" * i))
    counters.add(vxlan.header(8) + frame(dport=22))
    assert counters.add(b"junk") is None
    data = counters.as_dict()
    assert (data["packets"], data["malformed"], data["vnis"]) == (6, 1, {"7": 5, "8": 1})
    by_port = {f["dport"]: (f["vni"], f["packets"]) for f in data["flows"]}
    assert by_port == {80: (7, 5), 22: (8, 1)}


def test_pcap_writer_and_counter(tmp_path):
    frames = [frame(payload=b"p%d" % i) for i in range(10)]
    writer = PcapWriter(tmp_path / "x.pcap")
    for f in frames:
        writer.write(f)
    writer.close()
    assert count(tmp_path / "x.pcap") == (10, sum(map(len, frames)))
    assert [bytes(p) for p in rdpcap(str(tmp_path / "x.pcap"))] == frames


@needs("vxlan")
def test_collector_process_counts_and_survives_malformed_datagrams():
    with Lab("collector-test") as lab:
        testbed.build(lab)
        info = collector.ensure(lab, "collector")
        code = (
            "import socket\n"
            f"from taplab.taps import vxlan\n"
            "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            f"inner = {frame()!r}\n"
            "for _ in range(50): s.sendto(vxlan.header(9) + inner, ('10.0.0.9', 4789))\n"
            "for _ in range(3): s.sendto(b'not vxlan', ('10.0.0.9', 4789))\n"
        )
        run([sys.executable, "-c", code], netns=lab.netns("client"))
        data = wait_for(
            lambda: (d := collector.read(info)).get("malformed") == 3 and d,
            timeout=10,
            what="the collector's counters",
        )
        assert (data["packets"], data["vnis"]) == (50, {"9": 50})
        assert data["socket_drops"] == 0
        collector.release(lab, "collector")
        assert "collector" not in lab.meta.get("collectors", {})
