"""A DNS-like UDP client and its server: small queries from fresh source ports, answered.

    python -m taplab.traffic.udpquery serve --port 5353
    python -m taplab.traffic.udpquery query --servers 10.244.1.2,10.244.1.3 --port 5353 \\
        --rate 200 --seconds 60

The client sends rate queries per second round-robin to the servers, each
from a new socket (a new source port, as resolvers randomise them), and waits
briefly for the answer. Prints ``{"sent": N, "answered": N}``. The server
answers every datagram with a copy of it and prints ``# ready`` to stderr.
"""

import argparse
import json
import os
import socket
import sys
import time


def serve(port: int) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", port))
    print("# ready", file=sys.stderr, flush=True)
    while True:
        data, peer = sock.recvfrom(2048)
        sock.sendto(data, peer)


def query(servers: list[str], port: int, rate: float, seconds: float) -> dict:
    sent = answered = 0
    start = time.monotonic()
    while (elapsed := time.monotonic() - start) < seconds:
        ahead = sent / rate - elapsed
        if ahead > 0:
            time.sleep(ahead)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(0.2)
            sock.sendto(
                os.urandom(2) + b"\x01\x00\x00\x01" + b"\x00" * 6,
                (servers[sent % len(servers)], port),
            )
            sent += 1
            try:
                sock.recv(2048)
                answered += 1
            except OSError:
                pass
    return {"sent": sent, "answered": answered}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    sp = sub.add_parser("serve")
    sp.add_argument("--port", type=int, default=5353)
    qp = sub.add_parser("query")
    qp.add_argument("--servers", required=True, help="comma-separated addresses")
    qp.add_argument("--port", type=int, default=5353)
    qp.add_argument("--rate", type=float, default=100, help="queries per second")
    qp.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    if args.mode == "serve":
        serve(args.port)
    else:
        print(
            json.dumps(query(args.servers.split(","), args.port, args.rate, args.seconds)),
            flush=True,
        )


if __name__ == "__main__":
    main()
