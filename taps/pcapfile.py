"""Classic pcap files: a small writer (the collector) and a record counter (pcap taps)."""

import struct
import time
from pathlib import Path

_GLOBAL = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)  # LINKTYPE_ETHERNET
_RECORD = struct.Struct("<IIII")


class PcapWriter:
    """Append Ethernet frames to a pcap file."""

    def __init__(self, path: str | Path):
        self.file = open(path, "wb")
        self.file.write(_GLOBAL)

    def write(self, frame: bytes) -> None:
        now = time.time()
        self.file.write(_RECORD.pack(int(now), int(now % 1 * 1e6), len(frame), len(frame)))
        self.file.write(frame)

    def flush(self) -> None:
        self.file.flush()

    def close(self) -> None:
        self.file.close()


def count(path: str | Path) -> tuple[int, int]:
    """(packets, original bytes) of the complete records in a pcap file."""
    packets = total = 0
    with open(path, "rb") as f:
        head = f.read(24)
        if len(head) < 24:
            return 0, 0
        endian = "<" if head[:4] == b"\xd4\xc3\xb2\xa1" else ">"
        rec = struct.Struct(endian + "IIII")
        while True:
            raw = f.read(rec.size)
            if len(raw) < rec.size:
                break
            _sec, _usec, caplen, origlen = rec.unpack(raw)
            data = f.read(caplen)
            if len(data) < caplen:
                break
            packets += 1
            total += origlen
    return packets, total
