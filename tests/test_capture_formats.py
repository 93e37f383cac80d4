"""pcap and pcapng: the stream converter, and detection reading either format."""

import io
import json
import re
import subprocess

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.utils import RawPcapReader, rdpcap, wrpcap

from taplab import pcapng
from taplab.detectors import pcap_source
from taplab.errors import UserError
from taplab.shell import in_netns
from tests.conftest import TAPLAB, needs, taplab, wait_for


def _scan(start: float = 1_700_000_000.25) -> list:
    """A SYN scan of 60 closed ports, each answered by a RST, 10 ms apart."""
    frames = []
    for i, port in enumerate(range(1000, 1060)):
        for pkt in (
            Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=40000, dport=port, flags="S"),
            Ether() / IP(src="10.0.0.2", dst="10.0.0.1") / TCP(sport=port, dport=40000, flags="RA"),
        ):
            pkt.time = start + i * 0.01
            frames.append(pkt)
    return frames


def _convert(pcap: bytes) -> bytes:
    out = io.BytesIO()
    pcapng.convert(io.BytesIO(pcap), out, "eth0")
    return out.getvalue()


@pytest.mark.parametrize("nano", [False, True])
def test_conversion_keeps_every_frame_and_its_time(tmp_path, nano):
    frames = _scan()
    wrpcap(str(tmp_path / "a.pcap"), frames, nano=nano)
    (tmp_path / "a.pcapng").write_bytes(_convert((tmp_path / "a.pcap").read_bytes()))
    back = rdpcap(str(tmp_path / "a.pcapng"))
    assert [bytes(p) for p in back] == [bytes(p) for p in frames]
    assert [round(float(p.time), 6) for p in back] == [round(float(p.time), 6) for p in frames]
    with RawPcapReader(str(tmp_path / "a.pcapng")) as reader:
        assert {meta.ifname for _, meta in reader} == {b"eth0"}


def test_a_stream_cut_mid_packet_keeps_the_whole_packets(tmp_path):
    wrpcap(str(tmp_path / "a.pcap"), _scan()[:3])
    data = (tmp_path / "a.pcap").read_bytes()
    (tmp_path / "cut.pcapng").write_bytes(_convert(data[:-10]))
    assert len(rdpcap(str(tmp_path / "cut.pcapng"))) == 2


def test_what_is_not_pcap_is_refused():
    with pytest.raises(pcapng.NotPcap):
        _convert(b"not a capture at all, but long enough")
    assert _convert(b"") == b""


@pytest.mark.parametrize("name, reason", [("none.pcap", "No such file"), (".", "Is a directory")])
def test_an_unreadable_capture_is_one_plain_sentence(tmp_path, name, reason):
    with pytest.raises(UserError) as error:
        list(pcap_source.observations(tmp_path / name))
    assert reason in str(error.value) and "Errno" not in str(error.value)


def test_pcap_and_pcapng_give_the_same_observations(tmp_path):
    wrpcap(str(tmp_path / "a.pcap"), _scan(), nano=True)
    (tmp_path / "a.pcapng").write_bytes(_convert((tmp_path / "a.pcap").read_bytes()))
    pcap = list(pcap_source.observations(tmp_path / "a.pcap"))
    ng = list(pcap_source.observations(tmp_path / "a.pcapng"))
    assert len(pcap) == 120 and pcap == ng
    assert pcap[1].time == pytest.approx(1_700_000_000.25, abs=1e-6)


def _detections(path) -> list[dict]:
    result = taplab("detect", "--pcap", str(path), "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["detections"]


def test_detect_reads_both_formats_alike(tmp_path):
    wrpcap(str(tmp_path / "a.pcap"), _scan())
    (tmp_path / "a.pcapng").write_bytes(_convert((tmp_path / "a.pcap").read_bytes()))
    found = _detections(tmp_path / "a.pcap")
    assert {d["detector"] for d in found if d["src"] == "10.0.0.1"} >= {"trw", "zeek"}, found
    assert _detections(tmp_path / "a.pcapng") == found


@needs("vxlan", "tcpdump", "nmap")
def test_a_real_scan_captured_both_ways_gives_the_same_detections(tmp_path):
    started = taplab("lab", "cluster", "--nodes", "1", "--pods", "2", "--detach")
    assert started.returncode == 0, started.stderr
    lab_id = re.search(r"lab (t\w+) runs", started.stdout).group(1)
    try:
        pcap_log, ng_log = tmp_path / "tcpdump.log", tmp_path / "capture.log"
        tcpdump = subprocess.Popen(
            in_netns(
                [
                    "tcpdump",
                    "-i",
                    "pod2-eth0",
                    "-U",
                    "--immediate-mode",
                    "-B",
                    "32768",
                    "-w",
                    str(tmp_path / "scan.pcap"),
                    "tcp",
                ],
                f"{lab_id}-pod2",
            ),
            stderr=pcap_log.open("w"),
        )
        capture = subprocess.Popen(
            [*TAPLAB, "capture", "pod2", "-f", "tcp", "-w", str(tmp_path / "scan.pcapng")],
            stderr=ng_log.open("w"),
        )
        for log in (pcap_log, ng_log):
            wait_for(lambda log=log: "listening on" in log.read_text(), 30, what="tcpdump")
        scan = taplab("attack", "scan", "pod1", "pod2", "--ports", "1-200", "--lab", lab_id)
        assert scan.returncode == 0, scan.stderr
        # A last SYN marks the end: both files hold it, so both hold the whole scan.
        taplab(
            "exec",
            "--lab",
            lab_id,
            "pod1",
            "timeout",
            "2",
            "bash",
            "-c",
            "echo > /dev/tcp/10.244.1.3/65000",
        )
        for path in (tmp_path / "scan.pcap", tmp_path / "scan.pcapng"):
            wait_for(lambda path=path: _has_port(path, 65000), 30, what=f"the marker in {path}")
        for proc in (tcpdump, capture):
            proc.send_signal(2)
            proc.wait(30)
        assert capture.returncode == 0, ng_log.read_text()
    finally:
        taplab("lab", "stop", lab_id)
    assert len(rdpcap(str(tmp_path / "scan.pcap"))) == len(rdpcap(str(tmp_path / "scan.pcapng")))
    # Two sockets stamp the same frame each with its own clock read: times agree to 1 ms.
    found, from_ng = _detections(tmp_path / "scan.pcap"), _detections(tmp_path / "scan.pcapng")
    assert found and [_untimed(d) for d in from_ng] == [_untimed(d) for d in found]
    assert all(abs(a["time"] - b["time"]) < 1e-3 for a, b in zip(found, from_ng, strict=True))


def _untimed(detection: dict) -> dict:
    return {k: v for k, v in detection.items() if k != "time"}


def _has_port(path, port: int) -> bool:
    """Whether a capture being written already holds a frame to TCP port."""
    try:
        return any(TCP in p and p[TCP].dport == port for p in rdpcap(str(path)))
    except Exception:  # noqa: BLE001 - empty or mid-write: not yet
        return False
