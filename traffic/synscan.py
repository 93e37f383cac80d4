"""A scapy SYN scanner: one SYN per port at a set rate, answers sorted into open and closed.

    python -m taplab.traffic.synscan --target 10.244.1.3 --ports 1-100 --rate 50

Prints ``{"open": [...], "closed": N, "silent": N}``. The kernel answers the
open ports' SYN-ACKs with RSTs, as with nmap -sS.
"""

import argparse
import json

from scapy.layers.inet import IP, TCP
from scapy.sendrecv import sr

from taplab.traffic.ports import parse_ports


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True)
    parser.add_argument("--ports", default="1-1000")
    parser.add_argument("--rate", type=float, default=100, help="probes per second")
    parser.add_argument("--timeout", type=float, default=2.0)
    args = parser.parse_args()
    ports = parse_ports(args.ports)
    probes = IP(dst=args.target) / TCP(sport=43210, dport=ports, flags="S")
    answered, unanswered = sr(probes, inter=1 / args.rate, timeout=args.timeout, verbose=0)
    open_ports = sorted(
        s[TCP].dport for s, r in answered if r.haslayer(TCP) and r[TCP].flags.S and r[TCP].flags.A
    )
    print(
        json.dumps(
            {
                "open": open_ports,
                "closed": len(answered) - len(open_ports),
                "silent": len(unanswered),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
