"""The live packet sensor: an AF_PACKET sniffer printing observations as JSON rows.

    taplab exec --lab <lab> node1 python -m taplab.detectors.sensor

Run inside a node's namespace (``live.start_sensor`` does that with
``lab.popen``). In a namespace with bridges (a cluster node) it keeps each
frame once, as it enters a bridge port or uplink; elsewhere (a pod) it keeps
both directions. Each line is ``Observation.row()``: ``[time, src, dst, proto,
sport, dport, flags, length, mac]``. A ``# ready`` line goes to stderr once
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
SCTP_CHUNKS = {1: "init", 2: "init-ack", 6: "abort", 10: "cookie-echo", 11: "cookie-ack"}
SNAPLEN = 128  # headers are all a detector reads
TCP_FLAGS = "FSRPAUEC"  # bit order, as scapy prints them
ICMP_TYPES = {
    0: "echo-reply",
    3: "unreach",
    8: "echo",
    13: "timestamp",
    14: "timestamp-reply",
    17: "mask",
    18: "mask-reply",
}


def _ip(raw: bytes) -> str:
    return socket.inet_ntoa(raw)


def _ports(packet: bytes, offset: int) -> tuple[int, int]:
    return struct.unpack_from("!HH", packet, offset)


def _mac(raw: bytes) -> str:
    return raw.hex(":")


def _unreach_ports(frame: bytes, inner: int) -> tuple[int | None, int | None]:
    """The (sport, dport) an ICMP unreachable answers, seen from the replier."""
    if len(frame) < inner + 20:
        return None, None
    inner_proto, inner_l4 = frame[inner + 9], inner + (frame[inner] & 0x0F) * 4
    if inner_proto in (6, 17, 132) and len(frame) >= inner_l4 + 4:
        probe_sport, probe_dport = _ports(frame, inner_l4)
        return probe_dport, probe_sport
    if inner_proto not in (1, 6, 17, 132):
        return inner_proto, None  # a protocol probe (nmap -sO): its number
    return None, None


def parse(frame: bytes, now: float, length: int | None = None) -> Observation | None:
    """The observation in an Ethernet frame (IPv4 or ARP), else None.

    frame may be truncated; length is the frame's full length. A fragment
    after the first has no ports: it is reported as proto "ip" with dport None.
    """
    if len(frame) < 34:
        return None
    length, mac = length or len(frame), _mac(frame[6:12])
    ethertype = struct.unpack_from("!H", frame, 12)[0]
    if ethertype == 0x0806 and len(frame) >= 42:
        op = struct.unpack_from("!H", frame, 20)[0]
        flags = {1: "who-has", 2: "is-at"}.get(op, str(op))
        return Observation(
            now,
            _ip(frame[28:32]),
            _ip(frame[38:42]),
            "arp",
            None,
            None,
            flags,
            length,
            _mac(frame[22:28]),
        )
    if ethertype != 0x0800:
        return None
    ihl = (frame[14] & 0x0F) * 4
    proto, src, dst = frame[23], _ip(frame[26:30]), _ip(frame[30:34])
    l4, end = 14 + ihl, min(len(frame), 14 + struct.unpack_from("!H", frame, 16)[0])
    if struct.unpack_from("!H", frame, 20)[0] & 0x1FFF:  # a later fragment
        return Observation(now, src, dst, "ip", None, None, "fragment", length, mac)
    if proto == 6 and end >= l4 + 14:
        bits = frame[l4 + 13]
        flags = "".join(f for i, f in enumerate(TCP_FLAGS) if bits & (1 << i))
        return Observation(now, src, dst, "tcp", *_ports(frame, l4), flags, length, mac)
    if proto == 6 and end >= l4 + 4:  # a first fragment too short for the flags (nmap -f)
        return Observation(now, src, dst, "tcp", *_ports(frame, l4), "frag", length, mac)
    if proto == 132 and end >= l4 + 13:  # SCTP: ports as TCP's, the first chunk's type
        chunk = SCTP_CHUNKS.get(frame[l4 + 12], f"chunk{frame[l4 + 12]}")
        return Observation(now, src, dst, "sctp", *_ports(frame, l4), chunk, length, mac)
    if proto == 17 and end >= l4 + 4:
        return Observation(now, src, dst, "udp", *_ports(frame, l4), "", length, mac)
    if proto == 1 and end >= l4 + 2:
        kind = ICMP_TYPES.get(frame[l4], f"type{frame[l4]}")
        sport, dport = _unreach_ports(frame, l4 + 8) if kind == "unreach" else (None, None)
        return Observation(now, src, dst, "icmp", sport, dport, kind, length, mac)
    if proto not in (1, 6, 17, 132):
        return Observation(now, src, dst, "ip", None, proto, "", length, mac)
    return None


def bridged_namespace() -> set[str]:
    """The bridge devices in this namespace (each forwarded frame crosses them)."""
    return {
        name
        for name in os.listdir("/sys/class/net")
        if os.path.isdir(f"/sys/class/net/{name}/bridge")
    }


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
                buf, SNAPLEN, socket.MSG_TRUNC
            )
        except TimeoutError:
            size = 0
        if (
            size
            and ifname != "lo"
            and ifname not in bridges
            and not (bridges and pkttype == PACKET_OUTGOING)
        ):
            obs = parse(bytes(buf[: min(size, SNAPLEN)]), time.time(), size)
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
