"""The collector: receives VXLAN on UDP/4789, decapsulates, counts per flow.

Its UDP socket lives in a lab node (``python -m taplab.taps.collector --netns NS
--stats FILE``; the process itself stays in the root namespace, where the
lambda server listens) and it writes its counters to a JSON file every
``--interval`` seconds (and on exit)::

    {"packets": 1200, "bytes": 1.7e6, "malformed": 0, "socket_drops": 0,
     "vnis": {"42": 1200},
     "flows": [{"vni": 42, "src": "10.244.1.2", "dst": "10.244.1.3", "proto": 17,
                "sport": 5000, "dport": 9, "packets": 1200, "bytes": 1.7e6}]}

With ``--pcap FILE`` it also writes every decapsulated inner frame to FILE.
When the lab runs a lambda server, flows with new packets are posted to it as
``tap`` events (``--events-lab``) every interval.
``ensure`` starts one collector per lab node (recorded in ``meta["collectors"]``)
and ``release`` stops it when no tap uses it any more.
"""

import argparse
import json
import signal
import socket
import struct
import sys
import time
from collections import defaultdict
from pathlib import Path

from taplab import ready
from taplab.controllers.api_client import ControllerClient
from taplab.errors import UserError
from taplab.lab import LabHandle
from taplab.measure import node_ip
from taplab.procs import ProcessId
from taplab.resources import remove
from taplab.taps import netns, vxlan
from taplab.taps.base import write_stats
from taplab.taps.pcapfile import PcapWriter

MAX_FLOWS_REPORTED = 200
SO_RCVBUFFORCE, SO_MEMINFO, SK_MEMINFO_DROPS = 33, 55, 8  # Linux; not in the socket module
MAX_EVENTS = 100


def socket_drops(sock: socket.socket) -> int:
    """Datagrams the kernel dropped on sock because its receive buffer was full."""
    meminfo = sock.getsockopt(socket.SOL_SOCKET, SO_MEMINFO, 9 * 4)
    return struct.unpack("9I", meminfo)[SK_MEMINFO_DROPS]


class Counters:
    """Per-flow packet and byte counters of decapsulated frames."""

    def __init__(self):
        self.packets = self.bytes = self.malformed = 0
        self.vnis: dict[int, int] = defaultdict(int)
        self.flows: dict[tuple, list[int]] = {}

    def add(self, datagram: bytes) -> bytes | None:
        """Count one datagram; return its inner frame (None if it is not VXLAN)."""
        decoded = vxlan.decap(datagram)
        if decoded is None:
            self.malformed += 1
            return None
        vni, frame = decoded
        self.packets += 1
        self.bytes += len(frame)
        self.vnis[vni] += 1
        key = (vni, *(vxlan.flow_of(frame) or ("", "", 0, 0, 0)))
        entry = self.flows.get(key)
        if entry is None:
            self.flows[key] = [1, len(frame)]
        else:
            entry[0] += 1
            entry[1] += len(frame)
        return frame

    def as_dict(self) -> dict:
        top = sorted(self.flows.items(), key=lambda kv: -kv[1][0])[:MAX_FLOWS_REPORTED]
        flows = [
            dict(
                zip(("vni", "src", "dst", "proto", "sport", "dport"), key, strict=True),
                packets=p,
                bytes=b,
            )
            for key, (p, b) in top
        ]
        return {
            "packets": self.packets,
            "bytes": self.bytes,
            "malformed": self.malformed,
            "vnis": {str(k): v for k, v in self.vnis.items()},
            "flow_count": len(self.flows),
            "flows": flows,
        }


class TapEvents:
    """Posts ``tap`` events (flows with new packets) to the lab's lambda server."""

    def __init__(self, client):
        self.client = client
        self.reported: dict[tuple, int] = {}
        self.posted = self.errors = 0

    def post(self, counters: Counters) -> None:
        events = []
        for key, (packets, nbytes) in counters.flows.items():
            new = packets - self.reported.get(key, 0)
            if new and len(events) < MAX_EVENTS:
                self.reported[key] = packets
                vni, src, dst, proto, sport, dport = key
                events.append(
                    {
                        "kind": "tap",
                        "src": src or None,
                        "dst": dst or None,
                        "data": {
                            "vni": vni,
                            "proto": proto,
                            "sport": sport,
                            "dport": dport,
                            "packets": packets,
                            "bytes": nbytes,
                            "new_packets": new,
                        },
                    }
                )
        if not events:
            return
        try:
            self.client.post_events(events)
            self.posted += len(events)
        except UserError:
            self.errors += 1


def serve(
    sock: socket.socket, stats: Path, interval: float, pcap: Path | None, events: TapEvents | None
) -> None:
    """Receive on sock until SIGTERM, writing counters (and posting events) every interval."""
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    sock.settimeout(interval)
    counters = Counters()
    writer = PcapWriter(pcap) if pcap else None
    next_write = 0.0
    while True:
        try:
            frame = counters.add(sock.recv(65535))
            if writer and frame is not None:
                writer.write(frame)
        except (TimeoutError, InterruptedError):
            pass
        now = time.monotonic()
        if now >= next_write or stop:
            if events:
                events.post(counters)
            write_stats(
                stats,
                {
                    **counters.as_dict(),
                    "socket_drops": socket_drops(sock),
                    "events_posted": events.posted if events else 0,
                },
            )
            if writer:
                writer.flush()
            next_write = now + interval
        if stop:
            break
    if writer:
        writer.close()


# -- in a lab ------------------------------------------------------------------
def ensure(lab, node: str, pcap: bool = False) -> dict:
    """The collector running on node, started (and recorded) if there is none."""
    collectors = lab.meta.get("collectors", {})
    if node in collectors:
        return collectors[node]
    ip = node_ip(lab, node)  # before anything starts: a node without IPv4 is a user error
    stats = lab.workdir / f"collector-{node}.json"
    stats.unlink(missing_ok=True)  # a stopped collector's counters are not this one's
    argv = [
        sys.executable,
        "-m",
        "taplab.taps.collector",
        "--netns",
        lab.netns(node),
        "--stats",
        str(stats),
    ]
    if lab.has_lambda_server:
        argv += ["--events-lab", lab.id]
    if pcap:
        argv += ["--pcap", str(lab.workdir / f"collector-{node}.pcap")]
    proc = lab.popen(argv, log=f"collector-{node}.log")
    info = {
        "node": node,
        "ip": ip,
        "port": vxlan.PORT,
        "stats": str(stats),
        "pcap": argv[-1] if pcap else None,
        "pid": proc.pid,
        "resources": [
            {
                "kind": "process",
                "pid": proc.pid,
                "started": ProcessId.of(proc.pid).started,
                "grace": 3.0,
            }
        ],
    }
    try:
        ready.wait(
            proc,
            lab.workdir / f"collector-{node}.log",
            f"the collector on {node}",
            stats.exists,
            timeout=30,
        )
    except UserError:
        remove(info["resources"][0])
        raise
    lab.set_meta(collectors={**collectors, node: info})
    return info


def release(lab, node: str) -> None:
    """Stop node's collector when no tap sends to it any more."""
    taps = lab.meta.get("taps", {}).values()
    if any(t.get("collector") == node for t in taps):
        return
    collectors = dict(lab.meta.get("collectors", {}))
    info = collectors.pop(node, None)
    if info:
        for resource in info["resources"]:
            remove(resource)
        Path(info["stats"]).unlink(missing_ok=True)
        lab.set_meta(collectors=collectors)


def read(info: dict) -> dict:
    """The collector's latest counters."""
    try:
        return json.loads(Path(info["stats"]).read_text())
    except (OSError, ValueError):
        return {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--netns", required=True, help="namespace of the collector's node")
    parser.add_argument("--stats", type=Path, required=True, help="JSON counters file")
    parser.add_argument("--port", type=int, default=vxlan.PORT)
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between writes")
    parser.add_argument("--pcap", type=Path, help="write decapsulated frames here")
    parser.add_argument("--events-lab", help="post tap events to this lab's lambda server")
    args = parser.parse_args()
    # The socket lives in the node; the lambda server is on the root namespace's loopback.
    with netns.inside(args.netns):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 16 << 20)
        sock.bind(("0.0.0.0", args.port))
    events = None
    if args.events_lab:
        events = TapEvents(ControllerClient.for_lab(LabHandle.find(args.events_lab)))
    serve(sock, args.stats, args.interval, args.pcap, events)


if __name__ == "__main__":
    main()
