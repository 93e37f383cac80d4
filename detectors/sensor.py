"""The live packet sensor: an AF_PACKET sniffer printing observations as JSON rows.

    ip netns exec <lab>-node1 python -m taplab.detectors.sensor

Run inside a node's namespace (``live.start_sensor`` does that with
``lab.popen``). In a namespace with bridges (a cluster node) it keeps each
frame once, as it enters a bridge port or uplink; elsewhere (a pod) it keeps
both directions. Each line is ``Observation.row()``: ``[time, src, dst, proto,
sport, dport, flags, length]``. A ``# ready`` line goes to stderr once
capturing.
"""

import argparse
import json
import os
import socket
import struct
import sys
import time

from taplab.detectors.observation import Observation

ETH_P_ALL, PACKET_OUTGOING = 0x0003, 4
SNAPLEN = 128  # headers are all a detector reads
TCP_FLAGS = "FSRPAUEC"  # bit order, as scapy prints them
ICMP_TYPES = {0: "echo-reply", 3: "unreach", 8: "echo"}


def _ip(raw: bytes) -> str:
    return socket.inet_ntoa(raw)


def _ports(packet: bytes, offset: int) -> tuple[int, int]:
    return struct.unpack_from("!HH", packet, offset)


def parse(frame: bytes, now: float, length: int | None = None) -> Observation | None:
    """The observation in an Ethernet frame (IPv4 TCP/UDP/ICMP or ARP), else None.

    frame may be truncated; length is the frame's full length.
    """
    if len(frame) < 34:
        return None
    length = length or len(frame)
    ethertype = struct.unpack_from("!H", frame, 12)[0]
    if ethertype == 0x0806 and len(frame) >= 42:
        op = struct.unpack_from("!H", frame, 20)[0]
        flags = {1: "who-has", 2: "is-at"}.get(op, str(op))
        return Observation(now, _ip(frame[28:32]), _ip(frame[38:42]), "arp", None, None,
                           flags, length)
    if ethertype != 0x0800:
        return None
    ihl = (frame[14] & 0x0F) * 4
    proto, src, dst = frame[23], _ip(frame[26:30]), _ip(frame[30:34])
    l4 = 14 + ihl
    if proto == 6 and len(frame) >= l4 + 14:
        bits = frame[l4 + 13]
        flags = "".join(f for i, f in enumerate(TCP_FLAGS) if bits & (1 << i))
        return Observation(now, src, dst, "tcp", *_ports(frame, l4), flags, length)
    if proto == 17 and len(frame) >= l4 + 4:
        return Observation(now, src, dst, "udp", *_ports(frame, l4), "", length)
    if proto == 1 and len(frame) >= l4 + 2:
        kind = ICMP_TYPES.get(frame[l4], f"type{frame[l4]}")
        sport = dport = None
        inner = l4 + 8
        if kind == "unreach" and len(frame) >= inner + 20:
            inner_l4 = inner + (frame[inner] & 0x0F) * 4
            if len(frame) >= inner_l4 + 4:
                probe_sport, probe_dport = _ports(frame, inner_l4)
                sport, dport = probe_dport, probe_sport  # seen from the replier
        return Observation(now, src, dst, "icmp", sport, dport, kind, length)
    return None


def bridged_namespace() -> set[str]:
    """The bridge devices in this namespace (each forwarded frame crosses them)."""
    return {name for name in os.listdir("/sys/class/net")
            if os.path.isdir(f"/sys/class/net/{name}/bridge")}


def capture(out=sys.stdout, flush_every: float = 0.1) -> None:
    bridges = bridged_namespace()
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.settimeout(flush_every)
    print("# ready", file=sys.stderr, flush=True)
    last_flush = time.monotonic()
    buf = bytearray(SNAPLEN)
    while True:
        try:
            size, (ifname, _proto, pkttype, _hatype, _addr) = sock.recvfrom_into(
                buf, SNAPLEN, socket.MSG_TRUNC)
        except TimeoutError:
            size = 0
        if size and ifname != "lo" and ifname not in bridges and not (
                bridges and pkttype == PACKET_OUTGOING):
            obs = parse(bytes(buf[:min(size, SNAPLEN)]), time.time(), size)
            if obs is not None:
                out.write(json.dumps(obs.row()) + "\n")
        if time.monotonic() - last_flush >= flush_every:
            out.flush()
            last_flush = time.monotonic()


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    try:
        capture()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
