"""The ``sidecar`` tap, as published: a process in the pod's namespace reads
every frame on the pod's interface (AF_PACKET, ETH_P_ALL), prepends a VXLAN
header in user space and sends it on UDP/4789 to the collector, skipping its
own traffic (a socket filter drops it in the kernel). Its CPU cost and its losses
are the point of the experiment. Frames arrive through a memory-mapped ring
(``packet_ring``, TPACKET_V3): a block of frames per wake-up instead of a system
call per frame.

    python -m taplab.taps.sidecar --intf pod1-eth0 --collector 10.244.1.4 --vni 42 \\
        --stats /run/taplab/labs/<id>/tap1.json
"""

import argparse
import signal
import socket
import struct
import sys
import time
from pathlib import Path

from taplab.taps import vxlan
from taplab.taps.base import Tap, tap_kind, write_stats
from taplab.taps.packet_ring import SOL_PACKET, PacketRing, skip_udp_to

ETH_P_ALL = 0x0003
PACKET_STATISTICS = 6


def forward(intf: str, collector: str, vni: int, stats: Path, interval: float = 0.5) -> None:
    """Copy every frame on intf to collector until SIGTERM, writing counters to stats."""
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    capture = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    skip_udp_to(capture, collector)  # its own copies, in the kernel
    ring = PacketRing(capture, block_size=1 << 18, blocks=32, timeout_ms=2)
    capture.bind((intf, 0))
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    header = vxlan.header(vni)
    target = (collector, vxlan.PORT)
    packets = nbytes = send_errors = socket_drops = 0
    next_write = 0.0
    while not stop:
        for frame in ring.frames(wait_ms=int(interval * 1000)):
            try:
                out.sendmsg([header, frame], (), 0, target)
                packets += 1
                nbytes += len(frame)
            except OSError:
                send_errors += 1
        now = time.monotonic()
        if now >= next_write or stop:
            # PACKET_STATISTICS (tpacket_stats_v3): frames the kernel dropped because the
            # ring was full (the counters reset when read).
            _seen, dropped, _freezes = struct.unpack(
                "III", capture.getsockopt(SOL_PACKET, PACKET_STATISTICS, 12)
            )
            socket_drops += dropped
            write_stats(
                stats,
                {
                    "packets": packets,
                    "bytes": nbytes,
                    "drops": socket_drops + send_errors,
                    "socket_drops": socket_drops,
                    "send_errors": send_errors,
                },
            )
            next_write = now + interval


@tap_kind
class SidecarTap(Tap):
    kind = "sidecar"
    mirrors = True

    def attach(self) -> None:
        proc = self.start(
            [
                sys.executable,
                "-m",
                "taplab.taps.sidecar",
                "--intf",
                self.target.intf,
                "--collector",
                self.record["collector_ip"],
                "--vni",
                str(self.options["vni"]),
                "--stats",
                str(self.stats_path),
            ]
        )
        self.wait_ready(proc)

    def counters(self) -> dict:
        return self.counters_from_file("socket_drops", "send_errors")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intf", required=True)
    parser.add_argument("--collector", required=True, help="collector IPv4 address")
    parser.add_argument("--vni", type=int, default=42)
    parser.add_argument("--stats", type=Path, required=True)
    args = parser.parse_args()
    forward(args.intf, args.collector, args.vni, args.stats)


if __name__ == "__main__":
    main()
