"""An idle-scan zombie: a host whose IP ID is one global counter, as nmap -sI needs.

    python -m taplab.traffic.zombie --iface pod3-eth0

Linux picks IP IDs per destination (or 0 with DF), so nmap refuses a Linux
host as a zombie. This responder answers every TCP SYN or SYN-ACK sent to the
interface's address with a RST whose IP ID is a counter shared by all
destinations (+1 per packet), as old stacks and printers did;
``scan.idle_zombie`` runs it and drops the kernel's own RSTs meanwhile. Prints
``# ready`` to stderr.
"""

import argparse
import sys

from scapy.arch import get_if_addr
from scapy.layers.inet import IP, TCP
from scapy.sendrecv import send, sniff


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iface", required=True)
    args = parser.parse_args()
    me, ipid = get_if_addr(args.iface), [1000]

    def answer(pkt) -> None:
        tcp = pkt[TCP]
        if pkt[IP].dst != me or not tcp.flags.S and not tcp.flags.A or tcp.flags.R:
            return
        ipid[0] = (ipid[0] + 1) % 65536
        syn = bool(tcp.flags.S) and not tcp.flags.A
        reply = TCP(
            sport=tcp.dport,
            dport=tcp.sport,
            flags="RA" if syn else "R",
            seq=0 if syn else tcp.ack,
            ack=tcp.seq + 1 if syn else 0,
        )
        send(IP(src=me, dst=pkt[IP].src, id=ipid[0], flags=0) / reply, verbose=0)

    print("# ready", file=sys.stderr, flush=True)
    sniff(iface=args.iface, filter=f"tcp and dst host {me}", prn=answer, store=False)


if __name__ == "__main__":
    main()
