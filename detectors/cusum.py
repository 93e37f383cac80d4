"""Non-parametric CUSUM SYN flood detection, per destination.

Algorithm: Wang, Zhang, Shin, "Detecting SYN Flooding Attacks", IEEE INFOCOM
2002 (SYN against FIN), and "Change-Point Monitoring for the Detection of DoS
Attacks", IEEE TDSC 2004 (SYN against SYN-ACK). Every ``interval`` seconds, for
each destination, count SYNs towards it and the packets that balance them (the
``balance`` kinds: "fin" towards it, "synack" from it, "rst" towards it,
"handshake" the client's ACK that completes a handshake with it). With
K the running mean of the balance rate (at least ``floor`` per second):

    X_n = (syn_rate_n - balance_rate_n) / K
    y_n = min(ceiling, max(0, y_{n-1} + X_n - drift))     alarm when y_n > threshold

Normal traffic opens and closes its connections, so X_n stays near 0 and the
drift ``drift`` pulls y back to 0; a flood's unanswered SYNs make y climb.
The ceiling (twice the threshold) bounds how long the alarm outlasts the
flood: (ceiling - threshold) / drift intervals, 2 s by default, instead of a
tail as long as the flood was strong.
The default threshold lets one interval of up to ~40 unbalanced SYNs pass (a
client retrying a port that is not listening yet) and flags 1000 SYN/s in the
first interval.
The default balance is FIN towards the destination and completed handshakes:
a flood at an open port is answered with SYN-ACKs (SYN cookies) and, from an
unspoofed source, with RSTs, so only completed connections tell it apart; the
handshake balances a connection at once, so a client that suddenly opens
hundreds of long connections per second (ab against a slow server) is not a
flood while its FINs lag. ``smoothing`` is the weight of the newest interval
in K. A retransmitted SYN (a 4-tuple seen before) is no new attempt: an
overloaded server's clients retry, a flood changes ports. The in-kernel
counter counts no handshakes: fed with ``observe_counts``, only its other
kinds balance.

A fast SYN scan is not a flood: SYNs count only towards ports that got at
least ``repeat`` (3) SYNs in the interval, and a scan sends one per port.
Sources are the real senders (``binding``: a spoofed flood from a host on
the link is charged to that host). The alert names the source with most of
the interval's unbalanced SYNs; when none has half of them it is a
``distributed-syn-flood`` if at least 3 sources sent ``repeat`` or more each
(many real attackers), else a ``syn-flood`` from random forged sources, and
either way its detail lists the top sources. While the alarm lasts, a new
dominant source whose own unbalanced SYNs would drive y up is reported too. It can
also be fed per-interval counters directly (``observe_counts``), which is how
the in-kernel eBPF counter uses it.
"""

from collections import Counter, OrderedDict
from dataclasses import dataclass, field

from taplab.detectors.binding import AddressBinding
from taplab.detectors.flood_sources import dominant, naming, repeated
from taplab.detectors.observation import Observation
from taplab.lambdas import Alert

BALANCE_KINDS = ("fin", "synack", "rst", "handshake")
MAX_HANDSHAKES = 100_000  # 4-tuples remembered (SYNs, SYN-ACKs awaiting the client's ACK)


@dataclass
class _Destination:
    y: float = 0.0
    mean_balance: float | None = None
    alarmed: bool = False
    reported: set = field(default_factory=set)
    syns: Counter = field(default_factory=Counter)  # (source, port) -> SYNs
    balance: int = 0
    sources: Counter = field(default_factory=Counter)  # balancing packets per client

    def reset(self) -> None:
        self.syns.clear()
        self.sources.clear()
        self.balance = 0


class CusumSynFlood:
    name = "cusum"

    def __init__(
        self,
        interval: float = 0.2,
        drift: float = 1.0,
        threshold: float = 10.0,
        floor: float = 20.0,
        smoothing: float = 0.1,
        balance: tuple[str, ...] = ("fin", "handshake"),
        repeat: int = 3,
    ):
        unknown = set(balance) - set(BALANCE_KINDS)
        if unknown or not balance:
            raise ValueError(f"balance kinds must come from {BALANCE_KINDS}, got {balance}")
        self.interval, self.drift, self.threshold = interval, drift, threshold
        self.floor, self.smoothing, self.balance = floor, smoothing, balance
        self.repeat = repeat
        self.binding = AddressBinding()
        self.handshakes: OrderedDict[tuple, None] = OrderedDict()
        self.attempts: OrderedDict[tuple, None] = OrderedDict()  # SYNs' 4-tuples
        self.ceiling = 2 * threshold
        self.dests: dict[str, _Destination] = {}
        self.bin_end: float | None = None

    def observe(self, obs: Observation) -> list[Alert]:
        alerts = self.tick(obs.time)
        sender = self.binding.sender(obs)
        if obs.proto != "tcp":
            return alerts
        if obs.pure_syn:
            attempt = (obs.src, obs.sport, obs.dst, obs.dport)
            if attempt not in self.attempts:  # a retransmission is no new attempt
                self.attempts[attempt] = None
                while len(self.attempts) > MAX_HANDSHAKES:
                    self.attempts.popitem(last=False)
                self.dests.setdefault(obs.dst, _Destination()).syns[(sender, obs.dport)] += 1
            return alerts
        if obs.syn_ack and "handshake" in self.balance:
            self.handshakes[(obs.dst, obs.dport, obs.src, obs.sport)] = None
            while len(self.handshakes) > MAX_HANDSHAKES:
                self.handshakes.popitem(last=False)
        if obs.syn_ack and "synack" in self.balance:
            dest, client = self.dests.setdefault(obs.src, _Destination()), obs.dst
        elif (
            obs.flags == "A"
            and self.handshakes.pop((obs.src, obs.sport, obs.dst, obs.dport), False) is None
        ):
            dest, client = self.dests.setdefault(obs.dst, _Destination()), sender
        elif (obs.fin and "fin" in self.balance) or (obs.rst and "rst" in self.balance):
            dest, client = self.dests.setdefault(obs.dst, _Destination()), sender
        else:
            return alerts
        dest.balance += 1
        dest.sources[client] += 1
        return alerts

    def tick(self, now: float) -> list[Alert]:
        """Close every interval that ended by now."""
        if self.bin_end is None:
            self.bin_end = now + self.interval
        alerts = []
        while now >= self.bin_end:
            for dst, dest in self.dests.items():
                flood = repeated(dest.syns, self.repeat)
                alert = self._update(dst, dest, sum(flood.values()), flood - dest.sources)
                if alert:
                    alerts.append(alert)
                dest.reset()
            self.bin_end += self.interval
        return alerts

    def observe_counts(
        self, dst: str, syn: int, balance: int, top_source: str | None = None, top_count: int = 0
    ) -> list[Alert]:
        """Feed one interval's counters for dst (from an in-kernel counter); top_source
        sent top_count of the SYNs (the counter does not balance them per source)."""
        dest = self.dests.setdefault(dst, _Destination())
        dest.balance = balance
        alert = self._update(dst, dest, syn, Counter({top_source: top_count} if top_source else {}))
        dest.reset()
        return [alert] if alert else []

    def _update(self, dst: str, dest: _Destination, syn: int, unbalanced: Counter) -> Alert | None:
        """Close dest's interval: syn SYNs, unbalanced SYNs per source."""
        syn_rate, balance_rate = syn / self.interval, dest.balance / self.interval
        norm = max(self.floor, dest.mean_balance or 0.0)
        step = (syn_rate - balance_rate) / norm - self.drift
        dest.y = min(self.ceiling, max(0.0, dest.y + step))
        if dest.y == 0.0:
            dest.alarmed = False
            dest.reported.clear()
            dest.mean_balance = (
                balance_rate
                if dest.mean_balance is None
                else (1 - self.smoothing) * dest.mean_balance + self.smoothing * balance_rate
            )
        if dest.y <= self.threshold:
            return None
        source = dominant(unbalanced, syn - dest.balance)
        if dest.alarmed:
            own_step = (unbalanced[source] / self.interval / norm - self.drift) if source else 0.0
            if source in dest.reported or own_step <= 0:
                return None  # only a source driving y up by itself now is news
        dest.alarmed = True
        dest.reported.add(source)
        name, sources = naming("syn-flood", unbalanced, source, self.repeat)
        detail = (
            f"CUSUM {dest.y:.1f} > {self.threshold:g}: {syn_rate:.0f} SYN/s against "
            f"{balance_rate:.0f} balancing/s{sources}"
        )
        return Alert(name, src=source, dst=dst, detail=detail)
