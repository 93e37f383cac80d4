"""``taplab bench policy``: what each added policy entry costs, by mechanism.

On the ``bridge-policy`` lab (two hosts, two containers each on ``br0``), for
each mechanism (``no-match``: iptables rules none of which matches;
``match-top``: iptables with the first rule accepting; ``nft-set``: one nftables
rule and a set; ``ebpf-map``: a TC program and a hash map) and each number of
entries N, it measures TCP throughput (iperf3, one stream) and TCP
request/response latency (100-byte requests, 200-byte responses, ``bench.rr``)
on two paths: ``single-host`` (c1 -> c2 across host1's bridge, bridge netfilter
on) and ``two-node`` (c1 -> c3, routed between the hosts). Each figure is also a
ratio to the same mechanism's N = 0 on the same path, measured in the same run
(the machine is shared: ratios, not absolute figures, are the result); the
shape is the loss per 100 added entries (least-squares slope).

Segmentation offloads are off on the containers (``--offloads`` keeps them):
with them on, a 64 KB buffer walks the rules once, and the per-packet cost the
report measured hides. Debian 12's ``iptables`` is the nftables backend
(iptables-nft): its rules are still evaluated one after another.

Published (the eBPF report, 2017, citations in docs/experiments.md): iptables
no-match 3.17 -> 2.26 Gb/s at 200 rules (-29 %), match-top flat at 3.42 Gb/s,
eBPF flat at 3.64 Gb/s; TCP_RR latency 18.91 / 19.40 / 20.63 µs.
"""

import statistics
import time
from collections import defaultdict

from rich import box
from rich.table import Table

from taplab.bench import rr
from taplab.bench.record import publish, pyplot, save_figure
from taplab.errors import UserError
from taplab.lab import Lab
from taplab.measure import iperf3, node_ip, offloads_off
from taplab.output import fold, progress
from taplab.topologies import registry
from taplab.topologies.bridge_policy import MAX_RULES, VARIANTS, set_policy

NO_NETFILTER = "[yellow]no bridge netfilter: single-host traffic skipped iptables and nftables[/]"

NAME = "policy"
HELP = "measure throughput and latency against the number of iptables, nftables and eBPF entries"
EXAMPLE = "sudo taplab bench policy --rules 0,10,100,200,1000 --time 3"
RULES = "0,1,5,10,25,50,100,200,1000,10000"
PATHS = {"single-host": ("c1", "c2"), "two-node": ("c1", "c3")}
QUICK = {"rules": "0,200", "time": 1.0, "repeats": 1}
PUBLISHED = {
    "source": "eBPF vs iptables container networking (report, 2017); see docs/experiments.md",
    "gbps": {
        "no-match": {0: 3.17, 200: 2.26},
        "match-top": {0: 3.42, 200: 3.42},
        "ebpf-map": {0: 3.64, 200: 3.64},
    },
    "no_match_loss_at_200_pct": 29,
    "rr_latency_us": [18.91, 19.40, 20.63],
}
FIELDS = [
    "variant",
    "path",
    "rules",
    "gbps",
    "gbps_ratio",
    "rr_mean_us",
    "rr_p99_us",
    "rr_ratio",
    "transactions",
    "retransmits",
    "repeats",
]


def add_arguments(p) -> None:
    p.add_argument("--rules", default=RULES, help=f"numbers of entries (default {RULES})")
    p.add_argument(
        "--variants", default=",".join(VARIANTS), help=f"mechanisms (default {','.join(VARIANTS)})"
    )
    p.add_argument("--paths", default=",".join(PATHS), help="single-host, two-node or both")
    p.add_argument("--time", type=float, default=3, help="seconds per measurement (default 3)")
    p.add_argument("--repeats", type=int, default=1, help="rounds over every point (default 1)")
    p.add_argument("--offloads", action="store_true", help="keep TSO/GSO/GRO on the containers")
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"N = {QUICK['rules']}, {QUICK['time']:.0f} s per measurement, one round",
    )


def parse(args) -> tuple[list[int], list[str], list[str]]:
    """The points to measure, or one sentence on what is wrong with them."""
    if args.quick:
        args.rules, args.time, args.repeats = QUICK["rules"], QUICK["time"], QUICK["repeats"]
    try:
        rules = sorted({int(n) for n in args.rules.split(",") if n.strip()})
    except ValueError:
        raise UserError(f"--rules takes numbers separated by commas, not '{args.rules}'.") from None
    if not rules or rules[0] < 0 or rules[-1] > MAX_RULES:
        raise UserError(f"--rules must be between 0 and {MAX_RULES}.")
    if rules[0] != 0:
        rules.insert(0, 0)  # the ratios need each mechanism's N = 0
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    for given, known, flag in ((variants, VARIANTS, "--variants"), (paths, PATHS, "--paths")):
        unknown = [x for x in given if x not in known]
        if unknown or not given:
            raise UserError(f"{flag} takes {', '.join(known)}, not '{','.join(unknown)}'.")
    if args.time < 1 or args.repeats < 1:
        raise UserError(
            "--time must be at least 1 s (iperf3 takes whole seconds) and --repeats at least 1."
        )
    return rules, variants, paths


def one_point(lab, path: str, seconds: float) -> dict:
    client, server = PATHS[path]
    tput = iperf3(lab, client, server, seconds=seconds)
    latency = rr.between(lab, client, node_ip(lab, server), seconds)
    return {
        "gbps": tput.mbps / 1000,
        "retransmits": tput.retransmits,
        "rr_mean_us": latency["mean_us"],
        "rr_p99_us": latency["p99_us"],
        "transactions": latency["transactions"],
    }


def measure(args, rules: list[int], variants: list[str], paths: list[str]) -> tuple[list, dict]:
    """Every (variant, N, path), round after round; within a round each N under every
    mechanism in turn, so that the points compared meet the same machine load."""
    runs: dict[tuple, list[dict]] = defaultdict(list)
    with Lab("bench-policy") as lab:
        registry.build(lab, "bridge-policy")
        if not args.offloads:
            for pod in lab.meta["pods"]:
                offloads_off(lab, pod, f"{pod}-eth0")
        for server in {s for _c, s in PATHS.values()}:
            rr.start_server(lab, server)
        total, done = args.repeats * len(variants) * len(rules), 0
        for _round in range(args.repeats):
            for n in rules:
                for variant in variants:
                    done += 1
                    with progress(f"[{done}/{total}] {variant}, {n} entries ..."):
                        set_policy(lab, n, variant)
                        for path in paths:
                            runs[variant, path, n].append(one_point(lab, path, args.time))
        netfilter = lab.meta["policy"]["bridge_netfilter"]
    return runs, {"bridge_netfilter": netfilter}


def summarize(runs: dict, rules: list[int], variants: list[str], paths: list[str]) -> list[dict]:
    rows = []
    for variant in variants:
        for path in paths:
            base = runs[variant, path, 0]
            base_gbps = statistics.median(r["gbps"] for r in base)
            base_rr = statistics.median(r["rr_mean_us"] for r in base)
            for n in rules:
                points = runs[variant, path, n]
                gbps = statistics.median(r["gbps"] for r in points)
                rr_us = statistics.median(r["rr_mean_us"] for r in points)
                rows.append(
                    {
                        "variant": variant,
                        "path": path,
                        "rules": n,
                        "gbps": round(gbps, 3),
                        "gbps_ratio": round(gbps / base_gbps, 4) if base_gbps else None,
                        "rr_mean_us": round(rr_us, 2),
                        "rr_p99_us": round(statistics.median(r["rr_p99_us"] for r in points), 2),
                        "rr_ratio": round(rr_us / base_rr, 4) if base_rr else None,
                        "transactions": int(statistics.median(r["transactions"] for r in points)),
                        "retransmits": int(statistics.median(r["retransmits"] for r in points)),
                        "repeats": len(points),
                    }
                )
    return rows


def slope_per_100(points: list[tuple[int, float]]) -> float | None:
    """Least-squares change of a ratio per 100 entries (None with fewer than two N)."""
    if len({n for n, _ in points}) < 2:
        return None
    mean_n = statistics.fmean(n for n, _ in points)
    mean_y = statistics.fmean(y for _, y in points)
    num = sum((n - mean_n) * (y - mean_y) for n, y in points)
    den = sum((n - mean_n) ** 2 for n, _ in points)
    return round(100 * num / den, 5)


def shape(rows: list[dict]) -> list[dict]:
    """Per mechanism and path: throughput and latency change per 100 added entries."""
    out = []
    for variant, path in dict.fromkeys((r["variant"], r["path"]) for r in rows):
        mine = [r for r in rows if (r["variant"], r["path"]) == (variant, path)]
        out.append(
            {
                "variant": variant,
                "path": path,
                "gbps_ratio_per_100": slope_per_100([(r["rules"], r["gbps_ratio"]) for r in mine]),
                "rr_ratio_per_100": slope_per_100([(r["rules"], r["rr_ratio"]) for r in mine]),
            }
        )
    return out


def published_note(row: dict) -> str:
    pub = PUBLISHED["gbps"].get(row["variant"], {})
    if row["rules"] in pub:
        base = pub[0]
        return f"{pub[row['rules']]:.2f} ({100 * pub[row['rules']] / base:.0f})"
    return ""


def table(rows: list[dict]) -> Table:
    t = Table(
        "mechanism",
        "path",
        "N",
        "Gb/s",
        "% N=0",
        "RR µs",
        "p99 µs",
        "% N=0",
        "published\nGb/s (%)",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for r in rows:
        t.add_row(
            r["variant"],
            r["path"],
            str(r["rules"]),
            f"{r['gbps']:.2f}",
            f"{100 * (r['gbps_ratio'] or 0):.1f}",
            f"{r['rr_mean_us']:.1f}",
            f"{r['rr_p99_us']:.1f}",
            f"{100 * (r['rr_ratio'] or 0):.1f}",
            published_note(r),
        )
    return fold(t)


def plot(rows: list[dict], folder) -> list[str]:
    plt = pyplot()
    paths = list(dict.fromkeys(r["path"] for r in rows))
    fig, axes = plt.subplots(2, len(paths), figsize=(6 * len(paths), 8), squeeze=False)
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    for col, path in enumerate(paths):
        for row_no, (key, title) in enumerate(
            (("gbps_ratio", "throughput / N=0"), ("rr_ratio", "RR latency / N=0"))
        ):
            ax = axes[row_no][col]
            for i, variant in enumerate(variants):
                pts = sorted(
                    (max(r["rules"], 0.5), r[key])
                    for r in rows
                    if (r["variant"], r["path"]) == (variant, path)
                )
                ax.plot(*zip(*pts, strict=True), marker="o", color=f"C{i}", label=variant)
            if key == "gbps_ratio":
                for i, variant in enumerate(variants):
                    pub = PUBLISHED["gbps"].get(variant)
                    if pub:
                        ax.plot(
                            [0.5, 200],
                            [1, pub[200] / pub[0]],
                            ls="--",
                            color=f"C{i}",
                            alpha=0.6,
                            label=f"{variant}, published",
                        )
            ax.set_xscale("log")
            ax.set_xlabel("entries (N = 0 drawn at 0.5)")
            ax.set_title(f"{path}: {title}")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
    return save_figure(fig, folder, "policy")


def run(args) -> int:
    rules, variants, paths = parse(args)
    started = time.time()
    runs, meta = measure(args, rules, variants, paths)
    rows = summarize(runs, rules, variants, paths)
    data = {
        "rows": rows,
        "shape": shape(rows),
        "published": PUBLISHED,
        **meta,
        "runs": [
            {"variant": v, "path": p, "rules": n, "repeats": r} for (v, p, n), r in runs.items()
        ],
        "settings": {
            "rules": rules,
            "variants": variants,
            "paths": paths,
            "seconds": args.time,
            "repeats": args.repeats,
            "offloads": args.offloads,
            "quick": args.quick,
            "rr_request_bytes": 100,
            "rr_response_bytes": 200,
        },
        "elapsed_s": round(time.time() - started, 1),
    }
    slopes = [
        f"{s['variant']} ({s['path']}): throughput "
        f"{100 * (s['gbps_ratio_per_100'] or 0):+.2f} % and RR latency "
        f"{100 * (s['rr_ratio_per_100'] or 0):+.2f} % per 100 entries"
        for s in data["shape"]
    ]
    warnings = [] if meta["bridge_netfilter"] else [NO_NETFILTER]
    return publish(
        "policy",
        args,
        data,
        FIELDS,
        plot,
        table(rows),
        *slopes,
        "published (eBPF report, 2017; docs/experiments.md): iptables no-match "
        "3.17 -> 2.26 Gb/s at 200 rules (-29 %), match-top flat 3.42, eBPF flat "
        "3.64; TCP_RR 18.91 / 19.40 / 20.63 µs",
        *warnings,
    )
