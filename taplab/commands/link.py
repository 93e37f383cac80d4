"""``taplab link NODE[:INTF] [PEER]``: bandwidth, delay, jitter, loss, corruption and
reordering on a link of a running lab (both directions), or ``--clear``."""

from taplab.commands import subcommand
from taplab.errors import UserError
from taplab.impairments import Impairment
from taplab.lab import LabHandle
from taplab.links import find, impair
from taplab.output import console, print_json


def register(sub) -> None:
    p = subcommand(
        sub,
        "link",
        "set bandwidth, delay, loss ... on a link of a running lab",
        [
            "sudo taplab link pod1 --rate 20mbit",
            "sudo taplab link pod1 cni0 --delay 20ms --loss 1%   (needs netem)",
            "sudo taplab link pod1 --clear",
            "sudo taplab link --list",
            "taplab> link pod1 cni0 --rate 10mbit   (inside the lab CLI)",
        ],
    )
    p.add_argument(
        "target",
        nargs="?",
        metavar="NODE[:INTF]",
        help="the node's end of the link (default: its first veth)",
    )
    p.add_argument(
        "peer",
        nargs="?",
        metavar="PEER",
        help="the node, or bridge, at the other end (picks among the node's links)",
    )
    p.add_argument("--rate", help="bandwidth, e.g. 20mbit, 500kbit, 1gbit (a number: Mbit/s)")
    p.add_argument("--delay", help="added one-way delay, e.g. 20ms (a number: ms)")
    p.add_argument("--jitter", help="delay variation, e.g. 5ms (needs --delay)")
    p.add_argument("--loss", help="packets lost, e.g. 1%%")
    p.add_argument("--corrupt", help="packets with a flipped bit, e.g. 0.1%%")
    p.add_argument("--reorder", help="packets sent ahead of the delayed ones, e.g. 25%%")
    p.add_argument("--clear", action="store_true", help="remove the link's impairments")
    p.add_argument("--list", action="store_true", help="list the lab's impaired links")
    p.add_argument("--lab", help="lab id (default: the only running lab)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    lab = LabHandle.find(args.lab)
    if args.list:
        return _list(lab, args.json)
    if not args.target:
        raise UserError("name the link's node (NODE[:INTF]), or use --list.")
    imp = Impairment.parse(
        rate=args.rate,
        delay=args.delay,
        jitter=args.jitter,
        loss=args.loss,
        corrupt=args.corrupt,
        reorder=args.reorder,
    )
    if bool(imp) == args.clear:
        raise UserError(
            "give --clear, or at least one of --rate, --delay, --jitter, --loss, "
            "--corrupt, --reorder (not both)."
        )
    ends = find(lab, args.target, args.peer)
    impair(lab, ends, imp)
    first, second = ends
    where = f"{first} <-> {second}" if second else str(first)
    if args.json:
        print_json({"link": where, "impairment": imp.describe()})
    else:
        console.print(f"{where}: {imp.describe()} (each direction)", highlight=False, markup=False)
    return 0


def _list(lab, as_json: bool) -> int:
    recorded = lab.meta.get("impairments", {})
    if as_json:
        print_json(recorded)
    else:
        for end, imp in sorted(recorded.items()):
            console.print(
                f"{end} <-> {imp['peer'] or '?'}: {imp['summary']}", markup=False, highlight=False
            )
        if not recorded:
            console.print("no impaired links.")
    return 0
