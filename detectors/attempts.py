"""First contacts and their outcomes, the input of every scan detector.

A first contact is the first attempt from a source to a destination key: a
(host, port) pair for TCP SYNs and UDP datagrams, a host for ICMP echo and ARP
requests. Its outcome is a success when the destination answers (SYN-ACK, a
UDP reply, an echo reply, an ARP reply), a failure when it rejects (RST, ICMP
unreachable) or stays silent for ``timeout`` seconds. An answered ARP request
settles nothing: every peer resolves an address before talking, so the reply
says the host exists, not that the contact was wanted; an unanswered one fails.
"""

from dataclasses import dataclass

from taplab.detectors.observation import Observation

Key = tuple[str, int | None]  # (destination host, destination port or None)


@dataclass(frozen=True)
class Outcome:
    """A first contact resolved: ``ok`` or not, and whether it was rejected."""

    src: str
    key: Key
    sent: float  # when the first contact was made
    time: float  # when its outcome became known
    ok: bool
    rejected: bool = False


class AttemptTracker:
    """Turns observations into first contacts (``started``) and ``Outcome`` values."""

    def __init__(self, timeout: float = 3.0):
        self.timeout = timeout
        self.contacted: dict[str, set[Key]] = {}
        self.pending: dict[tuple[str, Key], float] = {}

    def observe(self, obs: Observation) -> tuple[Key | None, list[Outcome]]:
        """The first contact obs makes (or None), and outcomes known by now."""
        outcomes = self.expire(obs.time)
        answered, outcome = self._answer(obs)
        if answered:
            return None, outcomes + ([outcome] if outcome else [])
        key = self._contact_key(obs)
        if key is None or key in self.contacted.get(obs.src, ()):
            return None, outcomes
        self.contacted.setdefault(obs.src, set()).add(key)
        self.pending[(obs.src, key)] = obs.time
        return key, outcomes

    def expire(self, now: float) -> list[Outcome]:
        """Failures of first contacts left unanswered for ``timeout`` seconds."""
        failures = []
        while self.pending:  # insertion order is time order: stop at the first recent one
            (src, key), sent = next(iter(self.pending.items()))
            if now - sent < self.timeout:
                break
            del self.pending[(src, key)]
            failures.append(Outcome(src, key, sent, sent + self.timeout, ok=False))
        return failures

    @staticmethod
    def _contact_key(obs: Observation) -> Key | None:
        if obs.pure_syn or obs.proto == "udp":
            return (obs.dst, obs.dport)
        if obs.flags in ("echo", "who-has"):
            return (obs.dst, None)
        return None

    def _answer(self, obs: Observation) -> tuple[bool, Outcome | None]:
        """Whether obs answers a contact, and the outcome it settles (if still open)."""
        if obs.proto in ("tcp", "udp") or obs.flags == "unreach":
            key: Key = (obs.src, obs.sport)
        else:
            key = (obs.src, None)
        if key not in self.contacted.get(obs.dst, ()):
            return False, None
        sent = self.pending.pop((obs.dst, key), None)
        if sent is None or obs.flags == "is-at":  # settled already, or neutral
            return True, None
        rejected = obs.rst or obs.flags == "unreach"
        return True, Outcome(obs.dst, key, sent, obs.time, ok=not rejected, rejected=rejected)
