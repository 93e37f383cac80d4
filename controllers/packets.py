"""Packet-ins as lambda events: ``Event("packet_in", time, dpid, src, dst, data)``.

data: proto ("tcp", "udp", "icmp" or the IP protocol number as a string),
sport, dport (0 when the protocol has none), flags (scapy-style TCP flags such
as "S", "SA", "R", "RA", "F", "FA", "PA"; "" otherwise), len (the frame's
length on the wire), in_port.
"""

from os_ken.lib.packet import ethernet, ipv4, packet, tcp, udp

from taplab.lambdas import Event

FLAG_LETTERS = "FSRPAUECN"  # bit 0 (FIN) upwards, scapy's order
PROTOS = {1: "icmp", 6: "tcp", 17: "udp"}


def tcp_flag_string(bits: int) -> str:
    return "".join(letter for i, letter in enumerate(FLAG_LETTERS) if bits & (1 << i))


def packet_event(
    data: bytes, dpid: int, in_port: int, total_len: int, now: float
) -> tuple[Event, str] | None:
    """The event for an IPv4 packet (and its source MAC), or None for other packets."""
    pkt = packet.Packet(data)
    eth, ip = pkt.get_protocol(ethernet.ethernet), pkt.get_protocol(ipv4.ipv4)
    if eth is None or ip is None:
        return None
    info = {
        "proto": PROTOS.get(ip.proto, str(ip.proto)),
        "sport": 0,
        "dport": 0,
        "flags": "",
        "len": total_len,
        "in_port": in_port,
    }
    layer4 = pkt.get_protocol(tcp.tcp) or pkt.get_protocol(udp.udp)
    if layer4 is not None:
        info.update(sport=layer4.src_port, dport=layer4.dst_port)
    if isinstance(layer4, tcp.tcp):
        info["flags"] = tcp_flag_string(layer4.bits)
    return Event("packet_in", now, dpid, ip.src, ip.dst, info), eth.src


def is_tcp_control(event: Event) -> bool:
    """True for a TCP packet with SYN, RST or FIN: the policy table copies those."""
    return event.data["proto"] == "tcp" and any(f in event.data["flags"] for f in "SRF")
