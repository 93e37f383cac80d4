"""One observed packet, the same for every source detectors read.

Detectors consume ``Observation`` values, whatever produced them: the live
sensor in a node's namespace (``taplab.detectors.sensor``), the controller's
``packet_in`` events, or tap/collector events. ``flags`` is scapy-style for TCP
("S", "SA", "R", "RA", "F", "PA", ...); for ICMP it is "echo", "echo-reply" or
"unreach"; for ARP "who-has" or "is-at"; for SCTP its first chunk ("init",
"abort", ...). An ICMP unreachable carries the ports
of the packet it answers, seen from the replier: ``sport`` is the port that was
probed on ``src``, ``dport`` the prober's port. Other IP protocols have proto
"ip" and their protocol number as ``dport`` (an ICMP protocol unreachable
carries it as ``sport``). ``mac`` is the frame's source MAC address where the
source saw one ("" otherwise): what tells a spoofed source from the real one.
"""

from dataclasses import astuple, dataclass

from taplab.lambdas import Event


@dataclass(frozen=True)
class Observation:
    time: float
    src: str
    dst: str
    proto: str  # "tcp", "udp", "sctp", "icmp", "arp", "ip"
    sport: int | None = None
    dport: int | None = None
    flags: str = ""
    length: int = 0
    mac: str = ""

    @property
    def pure_syn(self) -> bool:
        return self.proto == "tcp" and "S" in self.flags and "A" not in self.flags

    @property
    def syn_ack(self) -> bool:
        return self.proto == "tcp" and "S" in self.flags and "A" in self.flags

    @property
    def fin(self) -> bool:
        return self.proto == "tcp" and "F" in self.flags

    @property
    def rst(self) -> bool:
        return self.proto == "tcp" and "R" in self.flags

    @property
    def stealth(self) -> bool:
        """A TCP packet that opens nothing (no SYN) and rejects nothing (no RST):
        a FIN, NULL, Xmas, ACK, Window or Maimon probe unless a connection carries it."""
        return self.proto == "tcp" and "S" not in self.flags and "R" not in self.flags

    def row(self) -> list:
        """A compact JSON-able row (the sensor's output format)."""
        return list(astuple(self))

    @classmethod
    def from_row(cls, row: list) -> "Observation":
        return cls(*row)


def from_event(event: Event) -> Observation | None:
    """The packet in a ``packet_in`` or ``tap`` event; None for other kinds.

    A tap event holding a flow's counters (the collector's, with ``packets``)
    is not one packet: None too (run detectors on the collector's pcap instead).
    The frame's source MAC, where the event carries one, is ``data["mac"]``.
    """
    if event.kind not in ("packet_in", "tap") or not event.src or not event.dst:
        return None
    if "packets" in event.data:
        return None
    data = event.data
    return Observation(
        event.time,
        event.src,
        event.dst,
        str(data.get("proto", "")),
        data.get("sport"),
        data.get("dport"),
        str(data.get("flags", "")),
        int(data.get("len", 0) or 0),
        str(data.get("mac", "") or ""),
    )
