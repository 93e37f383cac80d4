"""The selective ebpf mirror, as published: a TCP stream is mirrored from its first HTTP 500 on."""

import subprocess
import sys

import pytest

from taplab.lab import Lab
from taplab.shell import start
from taplab.taps import session, testbed
from taplab.taps.pcapfile import count
from tests.conftest import needs, wait_for

pytestmark = needs("vxlan", "bcc", "tc_bpf")

SERVER = """
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = self.path.encode()
        self.send_response(500 if self.path == "/fail" else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
ThreadingHTTPServer(("0.0.0.0", 8080), H).serve_forever()
"""

# Reads "CONN PATH" lines; answers "CONN STATUS LOCALPORT" after each request.
CLIENT = """
import http.client, sys
conns = {}
for line in sys.stdin:
    name, path = line.split()
    if name not in conns:
        conns[name] = http.client.HTTPConnection("10.0.0.2", 8080, timeout=5)
        conns[name].connect()
    c = conns[name]
    c.request("GET", path)
    r = c.getresponse(); r.read()
    print(name, r.status, c.sock.getsockname()[1], flush=True)
"""


@pytest.fixture
def lab():
    with Lab("tap-http500") as lab:
        testbed.build(lab)
        lab.popen([sys.executable, "-c", SERVER], node="server", log="http.log")
        yield lab


def stream_packets(lab, port: int) -> int:
    flows = session.stats(lab, "tap1")["collector"]["flows"]
    return sum(f["packets"] for f in flows if port in (f["sport"], f["dport"]) and f["proto"] == 6)


def test_stream_is_mirrored_only_after_http_500(lab):
    tap = session.attach(
        lab, "client", "ebpf", collector="collector", collector_pcap=True, mirror="http500"
    )
    client = start(
        [sys.executable, "-c", CLIENT],
        netns=lab.netns("client"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )

    def get(conn: str, path: str) -> tuple[int, int]:
        client.stdin.write(f"{conn} {path}\n")
        client.stdin.flush()
        _name, status, port = client.stdout.readline().split()
        return int(status), int(port)

    try:
        wait_for(
            lambda: ":8080" in lab.sh("server", ["ss", "-ltn"]), timeout=20, what="the HTTP server"
        )
        for _ in range(3):
            assert get("a", "/ok")[0] == 200
            assert get("b", "/ok")[0] == 200
        port_a, port_b = get("a", "/ok")[1], get("b", "/ok")[1]
        counted = wait_for(
            lambda: session.stats(lab, "tap1")["protocols"]["tcp"]["packets"],
            timeout=10,
            what="the program to count the streams",
        )
        assert counted > 0
        assert session.stats(lab, "tap1")["mirrored"] == 0  # 200s only: nothing mirrored
        assert get("a", "/fail")[0] == 500
        for _ in range(3):
            assert get("a", "/ok")[0] == 200
            assert get("b", "/ok")[0] == 200
        wait_for(
            lambda: stream_packets(lab, port_a) >= 7, timeout=10, what="stream a at the collector"
        )
        # The loader writes its counters every half second: wait for this round's.
        stats = wait_for(
            lambda: (s := session.stats(lab, "tap1"))["triggers"] and s,
            timeout=5,
            what="the trigger count",
        )
        assert stats["triggers"] == 1
        assert stream_packets(lab, port_b) == 0
        first = first_mirrored_payload(lab.meta["collectors"]["collector"]["pcap"])
        assert first.startswith(b"HTTP/1.1 500"), first
    finally:
        client.stdin.close()
        client.wait(timeout=10)
        session.detach(lab, tap["id"])


def first_mirrored_payload(pcap: str) -> bytes:
    """The TCP payload of the first mirrored packet that carries data."""
    from scapy.all import TCP, rdpcap

    wait_for(lambda: count(pcap)[0] > 0, timeout=10, what="the collector's pcap")
    for packet in rdpcap(pcap):
        if TCP in packet and bytes(packet[TCP].payload):
            return bytes(packet[TCP].payload)
    return b""
