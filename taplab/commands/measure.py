"""``taplab measure A B``: iperf3 throughput between two nodes of a running lab."""

from taplab.commands import subcommand
from taplab.lab import LabHandle
from taplab.measure import iperf3
from taplab.output import console, print_json, progress


def register(sub) -> None:
    p = subcommand(
        sub,
        "measure",
        "measure throughput from one node to another with iperf3",
        [
            "sudo taplab measure pod1 pod2 --time 5",
            "taplab> measure pod1 pod3 --rate 100M   (inside the lab CLI)",
        ],
    )
    p.add_argument("client")
    p.add_argument("server")
    p.add_argument("--time", type=float, default=3, help="seconds (default 3)")
    p.add_argument("--rate", help="target rate, e.g. 100M (default: unlimited)")
    p.add_argument("--udp", action="store_true", help="UDP instead of TCP")
    p.add_argument("--lab", help="lab id (default: the only running lab)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    lab = LabHandle.find(args.lab)
    with progress(f"iperf3 {args.client} -> {args.server} for {args.time:g}s ..."):
        result = iperf3(lab, args.client, args.server, args.time, args.rate, udp=args.udp)
    if args.json:
        print_json(result.as_dict())
    else:
        console.print(
            f"{args.client} -> {args.server}: [bold]{result.mbps:.1f} Mb/s[/], "
            f"{result.retransmits} retransmits over {args.time:g}s"
        )
    return 0
