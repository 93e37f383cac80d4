"""UDP, ICMP, ACK and RST floods, per destination (victim side), with their top sources.

Every ``interval`` (0.5 s), for each destination and kind, count the packets
towards it that nothing balanced:

- ``udp``: datagrams to it, less the datagrams it sent back to their sources;
- ``icmp``: echo requests to it (a host answers every one, so replies balance
  nothing);
- ``ack`` and ``rst``: TCP packets with ACK (and no SYN or RST), or with RST,
  that belong to no known connection (one opened by a SYN or SYN-ACK, or
  answered by the destination with anything but a RST: a flow that started
  before the sensor, or whose SYN the sensor missed), each flow once per
  interval (a flood changes ports with every packet).

Only ports that got ``repeat`` (3) or more of them in the interval count: a
fast scan sends one probe per port and is a scan, not a flood. A rate above
``threshold`` (500 packets/s) raises ``<kind>-flood`` once; the alarm
re-arms after an interval under the threshold. Sources are the real senders
(``binding``); the alert names the one with half of the packets, or is a
``distributed-<kind>-flood`` or a forged-source flood with its top sources
listed (``flood_sources``). This is a plain rate threshold on unanswered packets (the
victim-side view of Mirkovic and Reiher's DoS taxonomy, SIGCOMM CCR 2004):
what it cannot see is a flood slower than the threshold.
"""

from collections import Counter, OrderedDict

from taplab.detectors.binding import AddressBinding
from taplab.detectors.flood_sources import dominant, naming, repeated
from taplab.detectors.observation import Observation
from taplab.lambdas import Alert

MAX_CONNECTIONS = 100_000


class PacketFlood:
    name = "flood"

    def __init__(self, interval: float = 0.5, threshold: float = 500.0, repeat: int = 3):
        self.interval, self.threshold, self.repeat = interval, threshold, repeat
        self.binding = AddressBinding()
        self.counts: dict[tuple[str, str], Counter] = {}  # (dst, kind) -> (source, port)
        self.unsolicited: set[tuple] = set()  # this interval's TCP packets of no connection
        self.alarmed: set[tuple[str, str]] = set()
        self.connections: OrderedDict[tuple, None] = OrderedDict()
        self.bin_end: float | None = None

    def observe(self, obs: Observation) -> list[Alert]:
        alerts = self.tick(obs.time)
        sender = self.binding.sender(obs)
        kind, toward, client, port, change = self._classify(obs, sender)
        if kind:
            self.counts.setdefault((toward, kind), Counter())[(client, port)] += change
        return alerts

    def _known(self, obs: Observation) -> bool:
        return (obs.src, obs.sport, obs.dst, obs.dport) in self.connections

    def _remember(self, obs: Observation) -> None:
        for key in (
            (obs.src, obs.sport, obs.dst, obs.dport),
            (obs.dst, obs.dport, obs.src, obs.sport),
        ):
            self.connections[key] = None
        while len(self.connections) > MAX_CONNECTIONS:
            self.connections.popitem(last=False)

    def _classify(self, obs: Observation, sender: str) -> tuple:
        """(kind, destination, client, port, +1 or -1) for a packet that counts, else Nones."""
        if obs.proto == "udp":
            counts = self.counts.get((obs.src, "udp"))
            if counts and counts.get((obs.dst, obs.sport), 0) > 0:  # a reply
                return "udp", obs.src, obs.dst, obs.sport, -1
            return "udp", obs.dst, sender, obs.dport, 1
        if obs.flags == "echo":
            return "icmp", obs.dst, sender, None, 1
        if obs.proto != "tcp" or self._known(obs):
            return None, None, None, None, 0
        if "S" in obs.flags:
            self._remember(obs)
            return None, None, None, None, 0
        if (obs.dst, obs.dport, obs.src, obs.sport) in self.unsolicited:  # an answer
            if "R" in obs.flags:
                return None, None, None, None, 0
            self._remember(obs)  # a flow that started before the sensor
            return "ack", obs.src, obs.dst, obs.sport, -1
        key = (obs.src, obs.sport, obs.dst, obs.dport)
        if key in self.unsolicited:  # a flow counts once per interval
            return None, None, None, None, 0
        self.unsolicited.add(key)
        if "R" in obs.flags:
            return "rst", obs.dst, sender, obs.dport, 1
        if "A" in obs.flags:
            return "ack", obs.dst, sender, obs.dport, 1
        return None, None, None, None, 0

    def tick(self, now: float) -> list[Alert]:
        if self.bin_end is None:
            self.bin_end = now + self.interval
        alerts = []
        while now >= self.bin_end:
            silent = self.alarmed - self.counts.keys()
            self.alarmed -= silent  # an interval without a packet re-arms the alarm too
            for (dst, kind), counts in self.counts.items():
                alert = self._close(dst, kind, counts)
                if alert:
                    alerts.append(alert)
            self.counts.clear()
            self.unsolicited.clear()
            self.bin_end += self.interval
        return alerts

    def _close(self, dst: str, kind: str, counts: Counter) -> Alert | None:
        unbalanced = +repeated(counts, self.repeat)  # sources above zero
        total = sum(unbalanced.values())
        rate = total / self.interval
        if rate <= self.threshold:
            self.alarmed.discard((dst, kind))
            return None
        if (dst, kind) in self.alarmed:
            return None
        self.alarmed.add((dst, kind))
        source = dominant(unbalanced, total)
        name, sources = naming(f"{kind}-flood", unbalanced, source, self.repeat)
        detail = f"{rate:.0f} unanswered {kind.upper()}/s > {self.threshold:g}{sources}"
        return Alert(name, src=source, dst=dst, detail=detail)
