"""The VXLAN header (RFC 7348) in user space: 8 bytes, flags 0x08 then a 24-bit VNI.

encap = header(42) + ethernet_frame        # what the sidecar sends on UDP/4789
vni, frame = decap(datagram)               # what the collector receives
"""

import struct

PORT = 4789
HEADER_LEN = 8
ETH_HLEN = 14
_FLAG_VNI = 0x08


def header(vni: int) -> bytes:
    """The 8-byte VXLAN header for vni (0 .. 2**24-1)."""
    if not 0 <= vni < 1 << 24:
        raise ValueError(f"VNI {vni} is outside 0..16777215")
    return struct.pack("!BxxxI", _FLAG_VNI, vni << 8)


def decap(datagram: bytes) -> tuple[int, bytes] | None:
    """(vni, inner frame) of a VXLAN datagram, or None if it is not one (no I flag,
    or no room for an Ethernet header)."""
    if len(datagram) < HEADER_LEN + ETH_HLEN or not datagram[0] & _FLAG_VNI:
        return None
    return int.from_bytes(datagram[4:7], "big"), datagram[HEADER_LEN:]


def flow_of(frame: bytes) -> tuple[str, str, int, int, int] | None:
    """(src, dst, proto, sport, dport) of an IPv4 Ethernet frame, else None."""
    if len(frame) < 34 or frame[12:14] != b"\x08\x00":
        return None
    ihl = (frame[14] & 0x0F) * 4
    proto = frame[23]
    src = ".".join(map(str, frame[26:30]))
    dst = ".".join(map(str, frame[30:34]))
    sport = dport = 0
    l4 = 14 + ihl
    if proto in (6, 17) and len(frame) >= l4 + 4:
        sport, dport = struct.unpack_from("!HH", frame, l4)
    return src, dst, proto, sport, dport
