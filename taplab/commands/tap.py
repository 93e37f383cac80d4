"""``taplab tap attach|detach|list|stats``: taps on the pods of a running lab."""

from taplab.commands import subcommand
from taplab.errors import UserError
from taplab.lab import LabHandle
from taplab.output import console, print_json, progress
from taplab.output import table as output_table
from taplab.taps import session


def register(sub) -> None:
    p = subcommand(
        sub,
        "tap",
        "attach taps to pods of a running lab and read their counters",
        [
            "sudo taplab tap attach pod1 --kind sidecar --collector pod3",
            "sudo taplab tap attach pod2 --kind ebpf --mirror http500 --collector pod3",
            "sudo taplab tap attach pod1 --kind openflow --collector pod3   (--switch ovs)",
            "sudo taplab tap stats tap1 --json",
            "sudo taplab tap list",
            "sudo taplab tap detach tap1",
            "taplab> tap attach pod1:pod1-eth0 --kind pcap   (inside the lab CLI)",
        ],
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    a = actions.add_parser("attach", help="attach a tap to NODE[:INTF]")
    a.add_argument("target", metavar="NODE[:INTF]")
    a.add_argument("--kind", required=True, choices=sorted(session.kinds()))
    a.add_argument(
        "--collector",
        metavar="NODE",
        help="node receiving the copies: the VXLAN collector (sidecar, tc-mirred, "
        "ebpf --mirror), or where the openflow tap's mirror port goes",
    )
    a.add_argument(
        "--collector-pcap",
        action="store_true",
        help="the collector also writes the decapsulated frames to a pcap file",
    )
    a.add_argument("--vni", type=int, help="VXLAN network identifier (default 42)")
    a.add_argument(
        "--mirror",
        choices=["none", "all", "http500"],
        help="ebpf: what to mirror to the collector (default none)",
    )
    a.add_argument("--flows", type=int, help="ebpf: LRU flow map entries (default 1024)")
    a.add_argument("--slots", type=int, help="xdp-flowtable: table slots (default 4096)")
    a.add_argument(
        "--interval",
        type=float,
        help="ebpf / xdp-flowtable: seconds between counter polls (default 0.5 / 2, as published)",
    )
    a.add_argument(
        "--ack",
        action="store_true",
        default=None,
        help="xdp-flowtable: stop-and-wait ACKed telemetry (default: no ACK)",
    )
    a.add_argument("--size-mb", type=int, help="pcap: megabytes per file (default 10)")
    a.add_argument("--files", type=int, help="pcap: files kept in rotation (default 4)")

    d = actions.add_parser("detach", help="detach a tap (or --all)")
    d.add_argument("tap", nargs="?", help="tap id (see `taplab tap list`)")
    d.add_argument("--all", action="store_true", help="detach every tap")

    actions.add_parser("list", help="list the lab's taps")

    s = actions.add_parser("stats", help="live counters of a tap (or of all)")
    s.add_argument("tap", nargs="?", help="tap id (default: every tap)")
    for parser in (a, d, s, actions.choices["list"]):
        parser.add_argument("--lab", help="lab id (default: the only running lab)")
        parser.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    lab = LabHandle.find(args.lab)
    return ACTIONS[args.action](lab, args)


def _attach(lab, args) -> int:
    options = {
        k: getattr(args, k)
        for k in ("vni", "mirror", "flows", "slots", "interval", "ack", "size_mb", "files")
    }
    with progress(f"attaching a {args.kind} tap to {args.target} ..."):
        record = session.attach(
            lab,
            args.target,
            args.kind,
            collector=args.collector,
            collector_pcap=args.collector_pcap,
            **options,
        )
    if args.json:
        print_json(record)
    else:
        target = record["target"]
        console.print(
            f"{record['id']}: {args.kind} tap on {target['node']}:{target['intf']}"
            + (f", copies to {record['collector']}" if record["collector"] else "")
        )
        if record.get("pcap"):  # tcpdump -C/-W numbers the files it rotates over
            console.print(
                f"capture: {record['pcap']}0 ... {record['pcap']}{record['options']['files'] - 1}",
                markup=False,
                highlight=False,
            )
    return 0


def _detach(lab, args) -> int:
    if not args.tap and not args.all:
        raise UserError("name the tap to detach (see `taplab tap list`) or use --all.")
    ids = sorted(session.records(lab)) if args.all else [args.tap]
    done = [session.detach(lab, tap_id)["id"] for tap_id in ids]
    if args.json:
        print_json({"detached": done})
    else:
        console.print(f"detached: {', '.join(done) or 'nothing'}")
    return 0


def _list(lab, args) -> int:
    taps = list(session.records(lab).values())
    if args.json:
        print_json(
            [{k: t[k] for k in ("id", "kind", "target", "options", "collector")} for t in taps]
        )
        return 0
    table = output_table("id", "kind", "node", "interface", "collector")
    for t in taps:
        table.add_row(
            t["id"], t["kind"], t["target"]["node"], t["target"]["intf"], t["collector"] or "-"
        )
    console.print(table)
    return 0


def _stats(lab, args) -> int:
    ids = [args.tap] if args.tap else sorted(session.records(lab))
    results = [session.stats(lab, tap_id) for tap_id in ids]
    if args.json:
        print_json(results if not args.tap else results[0])
        return 0
    table = output_table(
        "id", "kind", "where", "packets", "bytes", "drops", "CPU %", "MB", "at collector"
    )
    for r in results:
        at_collector = r.get("collector", {}).get("packets", "-")
        table.add_row(
            r["id"],
            r["kind"],
            f"{r['node']}:{r['intf']}",
            str(r["packets"]),
            str(r["bytes"]),
            "-" if r["drops"] is None else str(r["drops"]),
            f"{r['cpu_pct']:.1f}",
            f"{r['mem_mb']:.1f}",
            str(at_collector),
        )
    console.print(table)
    return 0


ACTIONS = {"attach": _attach, "detach": _detach, "list": _list, "stats": _stats}
