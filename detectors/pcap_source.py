"""Observations from a capture file, pcap or pcapng: a ``pcap`` tap's capture,
the collector's decapsulated frames (``--pcap``), ``taplab capture``, or any
tcpdump, dumpcap or Wireshark file of Ethernet frames.

    for obs in observations("/run/taplab/labs/t1ab/tap-pod2.pcap"): ...
"""

from collections.abc import Iterator
from pathlib import Path

from scapy.error import Scapy_Exception
from scapy.utils import RawPcapReader

from taplab.detectors.observation import Observation
from taplab.detectors.sensor import parse
from taplab.errors import UserError


def timestamp(meta, nano: bool = False) -> float:
    """A packet's time in seconds, from a pcap or a pcapng record's metadata."""
    if hasattr(meta, "tsresol"):  # pcapng: 64-bit count of tsresol units
        return ((meta.tshigh << 32) + meta.tslow) / meta.tsresol
    return meta.sec + meta.usec / (1e9 if nano else 1e6)  # "usec" holds ns in a ns pcap


def observations(path: str | Path) -> Iterator[Observation]:
    """Every IPv4 TCP/UDP/ICMP or ARP frame in the file, in capture order."""
    try:
        reader = RawPcapReader(str(path))
    except (OSError, Scapy_Exception) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise UserError(f"cannot read pcap file {path}: {reason}.") from None
    with reader:
        for frame, meta in reader:
            obs = parse(frame, timestamp(meta, getattr(reader, "nano", False)), meta.wirelen)
            if obs is not None:
                yield obs
