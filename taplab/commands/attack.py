"""``taplab attack ...``: floods and scans in a running lab, with ground truth."""

from taplab.commands import generator_options, print_run, subcommand
from taplab.errors import UserError
from taplab.lab import LabHandle
from taplab.output import progress
from taplab.traffic import flood, scan
from taplab.traffic.scan import Evasion


def register(sub) -> None:
    p = subcommand(
        sub,
        "attack",
        "launch a SYN flood or a scan in a lab (writes ground truth)",
        [
            "sudo taplab attack synflood pod1 pod2 --rate 1000 --time 3",
            "sudo taplab attack scan pod1 pod2 --kind sS --timing T4 --ports 1-1000",
            "sudo taplab attack scan pod1 10.244.1.0/28 --kind sn",
        ],
    )
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True)
    fp = subcommand(
        kinds,
        "synflood",
        "SYN flood with hping3 (scapy if hping3 is missing)",
        ["sudo taplab attack synflood pod1 pod2 --rate 5000 --rand-source"],
    )
    fp.add_argument("attacker")
    fp.add_argument("target", help="node or IPv4 address")
    fp.add_argument("--port", type=int, default=80)
    fp.add_argument("--rate", type=float, default=1000, help="SYNs per second (default 1000)")
    fp.add_argument("--time", type=float, default=3, help="seconds (default 3)")
    fp.add_argument("--spoof", metavar="ADDR", help="forge this source address")
    fp.add_argument("--rand-source", action="store_true", help="random forged sources")
    fp.add_argument("--tool", choices=flood.TOOLS, default="auto")
    dp = subcommand(
        kinds,
        "flood",
        "SYN, ACK, RST, UDP or ICMP flood with hping3, from one or many pods",
        [
            "sudo taplab attack flood pod1 pod2 --kind udp --rate 2000",
            "sudo taplab attack flood pod3,pod4,pod5 pod2 --rate 100",
        ],
    )
    dp.add_argument("attackers", help="node, or comma-separated nodes flooding at once")
    dp.add_argument("target", help="node or IPv4 address")
    dp.add_argument("--kind", dest="flood_kind", choices=flood.KINDS, default="syn")
    dp.add_argument("--port", type=int, default=80)
    dp.add_argument("--rate", type=float, default=1000, help="packets/s per attacker (1000)")
    dp.add_argument("--time", type=float, default=3, help="seconds (default 3)")
    dp.add_argument("--rand-source", action="store_true", help="random forged sources")
    sp = subcommand(
        kinds,
        "scan",
        "port or ping scan with nmap, or the scapy SYN scanner",
        [
            "sudo taplab attack scan pod1 pod2 --kind sS --timing T1 --ports 1-5",
            "sudo taplab attack scan pod1 pod2 --kind sF --decoys pod3,RND:3 -f",
            "sudo taplab attack scan pod1 10.244.1.0/24 --kind sn --ping PS80 PE",
        ],
    )
    sp.add_argument("attacker")
    sp.add_argument("target", help="node, IPv4 address or CIDR block")
    sp.add_argument("--kind", choices=scan.KINDS, default="sS", help="nmap scan (default sS)")
    sp.add_argument(
        "--timing",
        choices=scan.TIMINGS,
        default="T4",
        help="nmap timing template (T0 paranoid .. T5 insane; default T4)",
    )
    sp.add_argument("--ports", help="ports, e.g. 22,80,1000-1010 (default 1-1000)")
    sp.add_argument("--tool", choices=("nmap", "scapy"), default="nmap")
    sp.add_argument("--rate", type=float, default=100, help="scapy scanner probes/s")
    sp.add_argument("--limit", type=float, default=600, help="stop after this many seconds")
    sp.add_argument(
        "--ping",
        nargs="+",
        default=[],
        metavar="PROBE",
        help="host discovery probes without the dash: PS80 PA PU53 PE PP",
    )
    sp.add_argument("--zombie", metavar="NODE", help="the idle scan's zombie (--kind sI)")
    sp.add_argument("--decoys", help="nmap -D: comma-separated nodes, addresses or RND:n")
    sp.add_argument("-f", "--fragment", action="store_true", help="nmap -f: tiny fragments")
    sp.add_argument("--mtu", type=int, help="fragment size, a multiple of 8")
    sp.add_argument("--source-port", type=int, help="nmap -g, e.g. 53")
    sp.add_argument("--data-length", type=int, help="random payload bytes per probe")
    sp.add_argument("--randomize-hosts", action="store_true")
    sp.add_argument("--scan-delay", help="e.g. 300ms")
    sp.add_argument("--max-rate", type=float, help="probes/s at most")
    for q in kinds.choices.values():
        generator_options(q)
    p.set_defaults(func=run)


def run(args) -> int:
    lab = LabHandle.find(args.lab)
    if args.kind == "synflood":
        with progress(
            f"SYN flood {args.attacker} -> {args.target} at {args.rate:g}/s for {args.time:g}s ..."
        ):
            truth = flood.syn_flood(
                lab,
                args.attacker,
                args.target,
                args.port,
                args.rate,
                args.time,
                args.spoof,
                args.rand_source,
                args.tool,
                out=args.out,
            )
        return print_run(args, lab, truth)
    if hasattr(args, "flood_kind"):  # the flood subcommand (its --kind is flood_kind)
        return run_flood(args, lab)
    evasion = Evasion(
        [d for d in (args.decoys or "").split(",") if d],
        args.fragment,
        args.mtu,
        args.source_port,
        args.data_length,
        args.randomize_hosts,
        args.scan_delay,
        args.max_rate,
    )
    with progress(f"scan {args.attacker} -> {args.target} ..."):
        if args.tool == "scapy":
            truth = scan.scapy_scan(
                lab,
                args.attacker,
                args.target,
                args.ports or "1-1000",
                args.rate,
                args.limit,
                out=args.out,
            )
        else:
            truth = scan.nmap_scan(
                lab,
                args.attacker,
                args.target,
                args.kind,
                args.timing,
                args.ports,
                args.limit,
                out=args.out,
                ping=args.ping,
                evasion=evasion,
                zombie=args.zombie,
            )
    return print_run(args, lab, truth)


def run_flood(args, lab) -> int:
    attackers = [a for a in args.attackers.split(",") if a]
    with progress(
        f"{args.flood_kind} flood {args.attackers} -> {args.target} "
        f"at {args.rate:g}/s each for {args.time:g}s ..."
    ):
        if len(attackers) > 1:
            if args.rand_source:
                raise UserError("--rand-source floods from one attacker: give one node.")
            truth = flood.distributed_flood(
                lab,
                attackers,
                args.target,
                args.flood_kind,
                args.port,
                args.rate,
                args.time,
                out=args.out,
            )
        else:
            truth = flood.flood(
                lab,
                args.attackers,
                args.target,
                args.flood_kind,
                args.port,
                args.rate,
                args.time,
                rand_source=args.rand_source,
                out=args.out,
            )
    return print_run(args, lab, truth)
