"""Observations from a pcap file: a ``pcap`` tap's capture, the collector's
decapsulated frames (``--pcap``), or any tcpdump file of Ethernet frames.

    for obs in observations("/run/taplab/labs/t1ab/tap-pod2.pcap"): ...
"""

from collections.abc import Iterator
from pathlib import Path

from scapy.error import Scapy_Exception
from scapy.utils import RawPcapReader

from taplab.detectors.observation import Observation
from taplab.detectors.sensor import parse
from taplab.errors import UserError


def observations(path: str | Path) -> Iterator[Observation]:
    """Every IPv4 TCP/UDP/ICMP or ARP frame in the file, in capture order."""
    try:
        reader = RawPcapReader(str(path))
    except (OSError, Scapy_Exception) as exc:
        raise UserError(f"cannot read pcap file {path}: {exc}.") from None
    with reader:
        for frame, meta in reader:
            obs = parse(frame, meta.sec + meta.usec / 1e6, meta.wirelen)
            if obs is not None:
                yield obs
