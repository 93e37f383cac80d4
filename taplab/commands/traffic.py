"""``taplab traffic ...``: benign traffic in a running lab, with ground truth.

Every run writes its ground truth (JSON) into the lab's workdir and ``--out``.
"""

from taplab.commands import generator_options, print_run, subcommand
from taplab.lab import LabHandle
from taplab.output import errors, progress
from taplab.traffic import benign, lookalike
from taplab.traffic.groundtruth import GroundTruth

LOOKALIKES = ("ab", "scraper", "retry", "dns", "backup", "mesh")


def register(sub) -> None:
    p = subcommand(
        sub,
        "traffic",
        "run benign traffic in a lab (writes ground truth)",
        [
            "sudo taplab traffic iperf pod3 pod2 --time 5 --rate 20M",
            "sudo taplab traffic http pod3 pod2 --rate 200 --error-ratio 0.1",
            "sudo taplab traffic busy pod4 pod2 --rate 100",
        ],
    )
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True)
    ip = subcommand(kinds, "iperf", "one iperf3 TCP flow", ["sudo taplab traffic iperf pod3 pod2"])
    ip.add_argument("client")
    ip.add_argument("server")
    ip.add_argument("--time", type=float, default=5, help="seconds (default 5)")
    ip.add_argument("--rate", default="20M", help="iperf3 -b rate (default 20M; 0: unlimited)")
    ip.add_argument("--port", type=int, default=5201)
    for name, what, rate, concurrency in (
        ("http", "HTTP load: requests over concurrent keep-alive connections", 200, 20),
        ("busy", "busy but benign: many short successful connections to one service", 100, None),
    ):
        hp = subcommand(kinds, name, what, [f"sudo taplab traffic {name} pod3 pod2"])
        hp.add_argument("client")
        hp.add_argument("server", help="node running the HTTP server (started if needed)")
        hp.add_argument("--port", type=int, default=80)
        hp.add_argument("--rate", type=float, default=rate, help=f"requests/s (default {rate})")
        hp.add_argument("--time", type=float, default=5, help="seconds (default 5)")
        hp.add_argument(
            "--error-ratio",
            type=float,
            default=0.0,
            help="share of 500 answers if the server is started now (default 0)",
        )
        if concurrency:
            hp.add_argument("--concurrency", type=int, default=concurrency)
    add_lookalikes(kinds)
    for q in kinds.choices.values():
        generator_options(q)
    p.set_defaults(func=run)


def add_lookalikes(kinds) -> None:
    """The benign traffic that looks like attacks (``traffic.lookalike``)."""
    ab = subcommand(
        kinds,
        "ab",
        "ApacheBench at full speed, a new connection per request",
        ["sudo taplab traffic ab pod3 pod2 --concurrency 50 --time 60"],
    )
    ab.add_argument("client")
    ab.add_argument("server", help="node running the HTTP server (started if needed)")
    ab.add_argument("--concurrency", type=int, default=50)
    sc = subcommand(
        kinds,
        "scraper",
        "a monitoring scraper polling every target each second, serving or not",
        ["sudo taplab traffic scraper pod3 pod1,pod2,10.244.1.99"],
    )
    sc.add_argument("client")
    sc.add_argument("targets", help="comma-separated nodes or addresses")
    rt = subcommand(
        kinds,
        "retry",
        "a client retrying a service that is down every second",
        ["sudo taplab traffic retry pod3 pod2 --port 8443"],
    )
    rt.add_argument("client")
    rt.add_argument("server")
    dn = subcommand(
        kinds,
        "dns",
        "DNS-like UDP queries from fresh ports to many servers",
        ["sudo taplab traffic dns pod3 pod4,pod5,pod6 --rate 200"],
    )
    dn.add_argument("client")
    dn.add_argument("servers", help="comma-separated nodes (their UDP servers start here)")
    dn.add_argument("--rate", type=float, default=100, help="queries/s (default 100)")
    bk = subcommand(
        kinds,
        "backup",
        "one long iperf3 flow, as a backup job",
        ["sudo taplab traffic backup pod3 pod2 --time 60 --rate 40M"],
    )
    bk.add_argument("client")
    bk.add_argument("server")
    bk.add_argument("--rate", default="40M", help="iperf3 -b rate (default 40M)")
    me = subcommand(
        kinds,
        "mesh",
        "every pod serves a health check and polls all the others",
        ["sudo taplab traffic mesh pod3,pod4,pod5,pod6"],
    )
    me.add_argument("pods", help="comma-separated nodes")
    for q in (ab, sc, rt, dn, bk, me):
        q.add_argument("--time", type=float, default=60, help="seconds (default 60)")
    for q, port in ((ab, 80), (sc, 80), (rt, 8443), (dn, 5353), (me, 15021)):
        q.add_argument("--port", type=int, default=port, help=f"default {port}")


def run_lookalike(args, lab) -> GroundTruth:
    if args.kind == "ab":
        ensure_http_server(lab, args.server, args.port, 0.0)
        return lookalike.ab_load(
            lab, args.client, args.server, args.port, args.concurrency, args.time, out=args.out
        )
    if args.kind == "scraper":
        return lookalike.scraper(
            lab, args.client, args.targets.split(","), args.port, seconds=args.time, out=args.out
        )
    if args.kind == "retry":
        return lookalike.retry_client(
            lab, args.client, args.server, args.port, seconds=args.time, out=args.out
        )
    if args.kind == "dns":
        return lookalike.dns_client(
            lab, args.client, args.servers.split(","), args.port, args.rate, args.time, out=args.out
        )
    if args.kind == "backup":
        return lookalike.backup_flow(
            lab, args.client, args.server, args.time, args.rate, out=args.out
        )
    return lookalike.mesh_checker(
        lab, args.pods.split(","), args.port, seconds=args.time, out=args.out
    )


def ensure_http_server(lab, node: str, port: int, error_ratio: float) -> None:
    """Start the HTTP server in node unless this lab already runs one there on port."""
    benign.check_error_ratio(error_ratio)
    running = lab.meta.get("http_servers", {}).get(node)
    if not running or running["port"] != port:
        benign.http_server(lab, node, port, error_ratio)
    elif running["error_ratio"] != error_ratio:
        errors.print(
            f"the HTTP server in {node} already answers 500 to "
            f"{running['error_ratio']:.0%} of requests; --error-ratio is ignored."
        )


def run(args) -> int:
    lab = LabHandle.find(args.lab)
    if args.kind in LOOKALIKES:
        with progress(f"{args.kind} for {args.time:g}s ..."):
            return print_run(args, lab, run_lookalike(args, lab))
    if args.kind == "iperf":
        with progress(f"iperf3 {args.client} -> {args.server} for {args.time:g}s ..."):
            truth = benign.iperf_flow(
                lab,
                args.client,
                args.server,
                args.time,
                None if args.rate == "0" else args.rate,
                args.port,
                out=args.out,
            )
        return print_run(args, lab, truth)
    ensure_http_server(lab, args.server, args.port, args.error_ratio)
    with progress(f"{args.kind} {args.client} -> {args.server} for {args.time:g}s ..."):
        if args.kind == "http":
            truth = benign.http_load(
                lab,
                args.client,
                args.server,
                args.port,
                args.rate,
                args.concurrency,
                args.time,
                out=args.out,
            )
        else:
            truth = benign.busy_client(
                lab, args.client, args.server, args.port, args.rate, args.time, out=args.out
            )
    return print_run(args, lab, truth)
