"""Non-parametric CUSUM SYN flood detection, per destination.

Algorithm: Wang, Zhang, Shin, "Detecting SYN Flooding Attacks", IEEE INFOCOM
2002 (SYN against FIN), and "Change-Point Monitoring for the Detection of DoS
Attacks", IEEE TDSC 2004 (SYN against SYN-ACK). Every ``interval`` seconds, for
each destination, count SYNs towards it and the packets that balance them (the
``balance`` kinds: "fin" towards it, "synack" from it, "rst" towards it). With
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
The default balance is FIN towards the destination: a flood at an open port is
answered with SYN-ACKs (SYN cookies) and, from an unspoofed source, with RSTs,
so only completed connections tell it apart. ``smoothing`` is the weight of
the newest interval in K. The alert names the source with most of the
interval's unbalanced SYNs (none when no source has half of them: spoofed
sources); while the alarm lasts, a new such source whose own unbalanced SYNs
would drive y up is reported too. It can
also be fed per-interval counters directly (``observe_counts``), which is how
the in-kernel eBPF counter uses it.
"""

from collections import Counter
from dataclasses import dataclass, field

from taplab.detectors.observation import Observation

from taplab.lambdas import Alert

BALANCE_KINDS = ("fin", "synack", "rst")


@dataclass
class _Destination:
    y: float = 0.0
    mean_balance: float | None = None
    alarmed: bool = False
    reported: set = field(default_factory=set)
    syn: int = 0
    balance: int = 0
    sources: Counter = field(default_factory=Counter)


class CusumSynFlood:
    name = "cusum"

    def __init__(self, interval: float = 0.2, drift: float = 1.0, threshold: float = 10.0,
                 floor: float = 20.0, smoothing: float = 0.1,
                 balance: tuple[str, ...] = ("fin",)):
        unknown = set(balance) - set(BALANCE_KINDS)
        if unknown or not balance:
            raise ValueError(f"balance kinds must come from {BALANCE_KINDS}, got {balance}")
        self.interval, self.drift, self.threshold = interval, drift, threshold
        self.floor, self.smoothing, self.balance = floor, smoothing, balance
        self.ceiling = 2 * threshold
        self.dests: dict[str, _Destination] = {}
        self.bin_end: float | None = None

    def observe(self, obs: Observation) -> list[Alert]:
        alerts = self.tick(obs.time)
        if obs.proto != "tcp":
            return alerts
        if obs.pure_syn:
            dest, client, change = self.dests.setdefault(obs.dst, _Destination()), obs.src, 1
            dest.syn += 1
        elif obs.syn_ack and "synack" in self.balance:
            dest, client, change = self.dests.setdefault(obs.src, _Destination()), obs.dst, -1
            dest.balance += 1
        elif (obs.fin and "fin" in self.balance) or (obs.rst and "rst" in self.balance):
            dest, client, change = self.dests.setdefault(obs.dst, _Destination()), obs.src, -1
            dest.balance += 1
        else:
            return alerts
        dest.sources[client] += change  # each client's unbalanced SYNs
        return alerts

    def tick(self, now: float) -> list[Alert]:
        """Close every interval that ended by now."""
        if self.bin_end is None:
            self.bin_end = now + self.interval
        alerts = []
        while now >= self.bin_end:
            for dst, dest in self.dests.items():
                alert = self._update(dst, dest)
                if alert:
                    alerts.append(alert)
                dest.syn = dest.balance = 0
                dest.sources.clear()
            self.bin_end += self.interval
        return alerts

    def observe_counts(self, dst: str, syn: int, balance: int, top_source: str | None = None,
                       top_count: int = 0) -> list[Alert]:
        """Feed one interval's counters for dst (from an in-kernel counter); top_source
        sent top_count of the SYNs (the counter does not balance them per source)."""
        dest = self.dests.setdefault(dst, _Destination())
        dest.syn, dest.balance = syn, balance
        if top_source:
            dest.sources[top_source] = top_count
        alert = self._update(dst, dest)
        dest.syn = dest.balance = 0
        dest.sources.clear()
        return [alert] if alert else []

    def _update(self, dst: str, dest: _Destination) -> Alert | None:
        syn_rate, balance_rate = dest.syn / self.interval, dest.balance / self.interval
        norm = max(self.floor, dest.mean_balance or 0.0)
        step = (syn_rate - balance_rate) / norm - self.drift
        dest.y = min(self.ceiling, max(0.0, dest.y + step))
        if dest.y == 0.0:
            dest.alarmed = False
            dest.reported.clear()
            dest.mean_balance = (balance_rate if dest.mean_balance is None else
                                 (1 - self.smoothing) * dest.mean_balance
                                 + self.smoothing * balance_rate)
        if dest.y <= self.threshold:
            return None
        top = dest.sources.most_common(1)
        excess = dest.syn - dest.balance
        source = top[0][0] if top and top[0][1] > 0 and top[0][1] * 2 >= excess else None
        if dest.alarmed:
            own_step = (top[0][1] / self.interval / norm - self.drift) if source else 0.0
            if source in dest.reported or own_step <= 0:
                return None  # only a source driving y up by itself now is news
        dest.alarmed = True
        dest.reported.add(source)
        return Alert("syn-flood", src=source, dst=dst,
                     detail=f"CUSUM {dest.y:.1f} > {self.threshold:g}: "
                            f"{syn_rate:.0f} SYN/s against {balance_rate:.0f} balancing/s")
