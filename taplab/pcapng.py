"""pcap to pcapng, as a stream: each packet is written (and flushed) as it arrives.

tcpdump writes only the classic pcap format; Wireshark and dumpcap write pcapng.
A capture piped through ``convert`` is read by both, live::

    tcpdump -U -w - | convert(stdin, stdout, "pod1-eth0")

Blocks written: one section header, one interface description (its name and,
for a nanosecond capture, its time resolution), one enhanced packet block per
packet (pcapng specification, draft-ietf-opsawg-pcapng).
"""

import struct
from typing import BinaryIO

PCAP_MAGICS = {  # magic as read little-endian: (byte order, nanosecond timestamps)
    0xA1B2C3D4: ("<", False),
    0xD4C3B2A1: (">", False),
    0xA1B23C4D: ("<", True),
    0x4D3CB2A1: (">", True),
}
SHB, IDB, EPB = 0x0A0D0D0A, 0x00000001, 0x00000006
OPT_IF_NAME, OPT_IF_TSRESOL = 2, 9


class NotPcap(ValueError):
    """The input does not start with a pcap file header."""


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def _block(kind: int, body: bytes) -> bytes:
    length = 12 + len(body)
    return struct.pack("<II", kind, length) + body + struct.pack("<I", length)


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + _pad(value)


def section_header() -> bytes:
    return _block(SHB, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))


def interface(linktype: int, snaplen: int, name: str, nanoseconds: bool) -> bytes:
    options = _option(OPT_IF_NAME, name.encode())
    if nanoseconds:
        options += _option(OPT_IF_TSRESOL, bytes([9]))
    options += _option(0, b"")
    return _block(IDB, struct.pack("<HHI", linktype, 0, snaplen) + options)


def packet(timestamp: int, data: bytes, wirelen: int) -> bytes:
    """An enhanced packet block on interface 0; timestamp in the interface's units."""
    head = struct.pack("<IIIII", 0, timestamp >> 32, timestamp & 0xFFFFFFFF, len(data), wirelen)
    return _block(EPB, head + _pad(data))


def _read(src: BinaryIO, size: int) -> bytes:
    """Exactly size bytes, or fewer at the end of the stream."""
    chunks, left = [], size
    while left:
        chunk = src.read(left)
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def convert(src: BinaryIO, dst: BinaryIO, ifname: str) -> int:
    """Copy a pcap stream to dst as pcapng until src ends; return the packets copied."""
    header = _read(src, 24)
    if not header:
        return 0
    (magic,) = struct.unpack("<I", header[:4])
    if len(header) < 24 or magic not in PCAP_MAGICS:
        raise NotPcap("the input is not a pcap stream")
    order, nanoseconds = PCAP_MAGICS[magic]
    snaplen, linktype = struct.unpack(order + "II", header[16:24])
    dst.write(section_header() + interface(linktype, snaplen, ifname, nanoseconds))
    dst.flush()
    units, count = 10**9 if nanoseconds else 10**6, 0
    while len(record := _read(src, 16)) == 16:
        seconds, fraction, caplen, wirelen = struct.unpack(order + "IIII", record)
        data = _read(src, caplen)
        if len(data) < caplen:
            break  # cut off mid-packet: the writer was stopped
        dst.write(packet(seconds * units + fraction, data, wirelen))
        dst.flush()
        count += 1
    return count
