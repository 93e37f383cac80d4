"""First contacts and their outcomes, the input of every scan detector.

A first contact is the first attempt from a source to a destination key: a
(host, port) pair for TCP SYNs, UDP datagrams, SCTP INITs and stealth probes, a (host,
-protocol) pair for a bare IP protocol probe (nmap -sO), a host for ICMP
echo, timestamp and address-mask requests and ARP requests. A stealth probe is
a TCP packet without SYN or RST that no known connection carries: nmap's FIN,
NULL, Xmas, Maimon, ACK and Window probes, and tiny fragments whose flags
are cut off (-f). A connection is known once a SYN or SYN-ACK opened it, or
once its other end answered a mid-stream packet with anything but a RST.

The outcome is a success when the destination answers (SYN-ACK, a UDP reply,
an echo reply, an ARP reply, any non-RST answer to a stealth probe), a
failure when it rejects (RST, ICMP unreachable) or stays silent for
``timeout`` seconds. A stealth probe never succeeds by RST: closed ports
answer FIN, NULL and Xmas probes with it, every port answers ACK probes with
it, and open ports stay silent. An answered ARP request settles nothing: every
peer resolves an address before talking, so the reply says the host exists,
not that the contact was wanted; an unanswered one fails. A host resolving a
peer that contacted it first (to answer it) makes no contact.

Sources are the real senders (``binding``): a decoy's or spoofed address's
probes count for the host whose interface sent them.
"""

from collections import OrderedDict
from dataclasses import dataclass

from taplab.detectors.binding import AddressBinding
from taplab.detectors.observation import Observation

Key = tuple[str, int | None]  # (destination host, destination port, -protocol or None)
HOST_REQUESTS = ("echo", "timestamp", "mask", "who-has")
REPLIES = ("echo-reply", "timestamp-reply", "mask-reply", "is-at")
PORTED = ("tcp", "udp", "sctp")
MAX_CONNECTIONS = 100_000


@dataclass(frozen=True)
class Outcome:
    """A first contact resolved: ``ok`` or not, and whether it was rejected."""

    src: str
    key: Key
    sent: float  # when the first contact was made
    time: float  # when its outcome became known
    ok: bool
    rejected: bool = False
    probe: str = ""  # what the contact was: "S", "udp", "stealth:F", "echo", ...


class AttemptTracker:
    """Turns observations into first contacts and ``Outcome`` values."""

    def __init__(self, timeout: float = 3.0):
        self.timeout = timeout
        self.binding = AddressBinding()
        self.contacted: dict[str, set[Key]] = {}
        self.pending: dict[tuple[str, Key], tuple[float, str]] = {}
        self.connections: OrderedDict[tuple, None] = OrderedDict()
        self.callers: set[tuple[str, str]] = set()  # (who, whom) first contacts were made

    def observe(self, obs: Observation) -> tuple[Key | None, list[Outcome]]:
        """The first contact obs makes (or None), and outcomes known by now."""
        outcomes = self.expire(obs.time)
        src = self.binding.sender(obs)
        answered, outcome = self._answer(obs)
        if answered:
            return None, outcomes + ([outcome] if outcome else [])
        probe = self._probe(obs)
        key = self._contact_key(obs)
        if probe is None or key is None or key in self.contacted.get(src, ()):
            return None, outcomes
        self.contacted.setdefault(src, set()).add(key)
        self.callers.add((obs.src, obs.dst))
        self.pending[(src, key)] = (obs.time, probe)
        return key, outcomes

    def expire(self, now: float) -> list[Outcome]:
        """Failures of first contacts left unanswered for ``timeout`` seconds."""
        failures = []
        while self.pending:  # insertion order is time order: stop at the first recent one
            (src, key), (sent, probe) = next(iter(self.pending.items()))
            if now - sent < self.timeout:
                break
            del self.pending[(src, key)]
            failures.append(Outcome(src, key, sent, sent + self.timeout, ok=False, probe=probe))
        return failures

    def _remember(self, obs: Observation) -> None:
        self.connections[(obs.src, obs.sport, obs.dst, obs.dport)] = None
        self.connections[(obs.dst, obs.dport, obs.src, obs.sport)] = None
        while len(self.connections) > MAX_CONNECTIONS:
            self.connections.popitem(last=False)

    def _probe(self, obs: Observation) -> str | None:
        """What kind of probe obs is, or None when it opens no contact."""
        if obs.proto == "tcp":
            if obs.syn_ack:
                self._remember(obs)
                return None
            if obs.pure_syn:
                self._remember(obs)
                return "S"
            if obs.stealth and (obs.src, obs.sport, obs.dst, obs.dport) not in self.connections:
                return f"stealth:{obs.flags or 'none'}"
            return None
        if obs.proto == "udp":
            return "udp"
        if obs.proto == "sctp":
            return "sctp" if obs.flags in ("init", "cookie-echo") else None
        if obs.proto == "ip" and obs.dport is not None:
            return "protocol"
        if obs.flags == "who-has" and (obs.dst, obs.src) in self.callers:
            return None  # resolving a caller, to answer it
        return obs.flags if obs.flags in HOST_REQUESTS else None

    @staticmethod
    def _contact_key(obs: Observation) -> Key | None:
        if obs.proto in ("tcp", "udp", "sctp"):
            return (obs.dst, obs.dport)
        if obs.proto == "ip":
            return (obs.dst, -obs.dport) if obs.dport is not None else None
        return (obs.dst, None)

    def _answer(self, obs: Observation) -> tuple[bool, Outcome | None]:
        """Whether obs answers a contact, and the outcome it settles (if still open)."""
        if obs.proto in PORTED or (obs.flags == "unreach" and obs.dport is not None):
            key: Key = (obs.src, obs.sport)
        elif obs.flags == "unreach" and obs.sport is not None:  # protocol unreachable
            key = (obs.src, -obs.sport)
        elif obs.flags in REPLIES or obs.flags == "unreach":
            key = (obs.src, None)
        else:
            return False, None
        if key not in self.contacted.get(obs.dst, ()) or obs.pure_syn:
            return False, None
        entry = self.pending.pop((obs.dst, key), None)
        if entry is None or obs.flags == "is-at":  # settled already, or neutral
            if obs.proto == "tcp" and not obs.rst:
                self._remember(obs)  # a mid-stream pickup, answered
            return True, None
        sent, probe = entry
        rejected = obs.rst or obs.flags in ("unreach", "abort")
        if obs.proto == "tcp" and not rejected:
            self._remember(obs)
        return True, Outcome(
            obs.dst, key, sent, obs.time, ok=not rejected, rejected=rejected, probe=probe
        )
