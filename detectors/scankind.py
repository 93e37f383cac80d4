"""What a scan looks like: the class an alert names, from the failed probes behind it.

    profile = ScanProfile()
    profile.add(outcome)                # each failed first contact of a source
    profile.describe(src)               -> ("stealth-scan", "FIN probes, 1 host, 12 ports")

Classes: ``stealth-scan`` when most failed probes carried no SYN (nmap -sF,
-sN, -sX, -sM, -sA, -sW, -f), ``horizontal-sweep`` when they went to 3 or more
hosts and to fewer ports than hosts (one port across many pods, ping
sweeps), ``vertical-scan`` otherwise (many ports of few hosts).
"""

from collections import Counter

from taplab.detectors.attempts import Outcome

TECHNIQUES = {
    "stealth:F": "FIN",
    "stealth:none": "NULL",
    "stealth:FPU": "Xmas",
    "stealth:FA": "Maimon",
    "stealth:A": "ACK/Window",
    "stealth:frag": "fragmented",
    "S": "SYN",
    "udp": "UDP",
    "protocol": "IP protocol",
    "echo": "echo",
    "timestamp": "ICMP timestamp",
    "mask": "ICMP mask",
    "who-has": "ARP",
}


class ScanProfile:
    """Per source: the hosts, ports and probe kinds of its failed first contacts."""

    def __init__(self):
        self.hosts: dict[str, set] = {}
        self.ports: dict[str, set] = {}
        self.probes: dict[str, Counter] = {}

    def add(self, out: Outcome) -> None:
        self.hosts.setdefault(out.src, set()).add(out.key[0])
        if out.key[1] is not None:
            self.ports.setdefault(out.src, set()).add(out.key[1])
        self.probes.setdefault(out.src, Counter())[out.probe] += 1

    def describe(self, src: str) -> tuple[str, str]:
        """(class, what it saw) for src's failed probes so far."""
        probes = self.probes.get(src, Counter())
        hosts, ports = len(self.hosts.get(src, ())), len(self.ports.get(src, ()))
        stealth = sum(n for p, n in probes.items() if p.startswith("stealth"))
        if stealth * 2 > sum(probes.values()):
            kind = "stealth-scan"
        elif hosts >= 3 and ports < hosts:
            kind = "horizontal-sweep"
        else:
            kind = "vertical-scan"
        names = ", ".join(TECHNIQUES.get(p, p) for p, _n in probes.most_common(3))
        return kind, f"{names} probes, {hosts} host(s), {ports} port(s)"
