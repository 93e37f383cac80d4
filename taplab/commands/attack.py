"""``taplab attack ...``: SYN floods and scans in a running lab, with ground truth."""

from taplab.commands import subcommand
from taplab.commands.traffic import common, report
from taplab.lab import LabHandle
from taplab.output import console
from taplab.traffic import flood, scan


def register(sub) -> None:
    p = subcommand(sub, "attack", "launch a SYN flood or a scan in a lab (writes ground truth)",
                   ["sudo taplab attack synflood pod1 pod2 --rate 1000 --time 3",
                    "sudo taplab attack scan pod1 pod2 --kind sS --timing T4 --ports 1-1000",
                    "sudo taplab attack scan pod1 10.244.1.0/28 --kind sn"])
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True)
    fp = subcommand(kinds, "synflood", "SYN flood with hping3 (scapy if hping3 is missing)",
                    ["sudo taplab attack synflood pod1 pod2 --rate 5000 --rand-source"])
    fp.add_argument("attacker")
    fp.add_argument("target", help="node or IPv4 address")
    fp.add_argument("--port", type=int, default=80)
    fp.add_argument("--rate", type=float, default=1000, help="SYNs per second (default 1000)")
    fp.add_argument("--time", type=float, default=3, help="seconds (default 3)")
    fp.add_argument("--spoof", metavar="ADDR", help="forge this source address")
    fp.add_argument("--rand-source", action="store_true", help="random forged sources")
    fp.add_argument("--tool", choices=flood.TOOLS, default="auto")
    sp = subcommand(kinds, "scan", "port or ping scan with nmap, or the scapy SYN scanner",
                    ["sudo taplab attack scan pod1 pod2 --kind sS --timing T1 --ports 1-5"])
    sp.add_argument("attacker")
    sp.add_argument("target", help="node, IPv4 address or CIDR block")
    sp.add_argument("--kind", choices=scan.KINDS, default="sS", help="nmap scan (default sS)")
    sp.add_argument("--timing", choices=scan.TIMINGS, default="T4",
                    help="nmap timing template (T0 paranoid .. T5 insane; default T4)")
    sp.add_argument("--ports", help="ports, e.g. 22,80,1000-1010 (default 1-1000)")
    sp.add_argument("--tool", choices=("nmap", "scapy"), default="nmap")
    sp.add_argument("--rate", type=float, default=100, help="scapy scanner probes/s")
    sp.add_argument("--limit", type=float, default=600, help="stop after this many seconds")
    for q in kinds.choices.values():
        common(q)
    p.set_defaults(func=run)


def run(args) -> int:
    lab = LabHandle.find(args.lab)
    if args.kind == "synflood":
        with console.status(f"SYN flood {args.attacker} -> {args.target} "
                            f"at {args.rate:g}/s for {args.time:g}s ..."):
            truth = flood.syn_flood(lab, args.attacker, args.target, args.port, args.rate,
                                    args.time, args.spoof, args.rand_source, args.tool,
                                    out=args.out)
        return report(args, lab, truth)
    with console.status(f"scan {args.attacker} -> {args.target} ..."):
        if args.tool == "scapy":
            truth = scan.scapy_scan(lab, args.attacker, args.target, args.ports or "1-1000",
                                    args.rate, args.limit, out=args.out)
        else:
            truth = scan.nmap_scan(lab, args.attacker, args.target, args.kind, args.timing,
                                   args.ports, args.limit, out=args.out)
    return report(args, lab, truth)
