"""``taplab bench taps``: what each tap kind costs and how much it misses.

For no tap and each tap kind on the client pod of a small lab (``taps.testbed``:
client, server and collector pods on one bridge), iperf3 (``--json``) runs from
client to server at each rate, ``--repeats`` times. Per run it records the
throughput as a share of the untapped median at the same rate (same session),
the tap's CPU (its processes, % of one core and of the node, from /proc) and
memory, its fidelity (packets and bytes at the collector, or counted by the
tap for the non-mirroring kinds, over the receiver's interface counters in the
directions the tap sees: the sender's own counters would include the tap's
copies) and TCP retransmits. Segmentation offloads are off on the pods
(``--offloads`` keeps them) so that a packet is a wire-sized packet, as on the
published clusters' NICs, and not a 64 KB GSO buffer. Kernel taps (``tc-mirred``, the
ebpf program) have no process of their own: their cost shows in the throughput
ratio and in the machine's busy share, printed too.

Published, beside ours: the sidecar tap used 2.25 / 4.05 / 8 / 11.8 % of a
2-vCPU node at 50 / 100 / 250 / 500 Mb/s and 14 MB, and its collector saw 5.3 %
(50 Mb/s) and 13 % (100 Mb/s) fewer packets than the receiver; an eBPF tracer
kept 89.7 % of untraced throughput.
"""

import statistics
from collections import defaultdict

from rich import box
from rich.table import Table

from taplab.bench.record import pyplot, save_figure
from taplab.errors import UserError
from taplab.lab import Lab
from taplab.measure import COUNTERS, intf_counters, iperf3, offloads_off
from taplab.output import console, fold, print_json, progress
from taplab.report import report_dir, write_json
from taplab.taps import session, testbed
from taplab.taps.procstat import CpuMeter, rss_mb

NAME = "taps"
HELP = "measure each tap kind's throughput cost, CPU, memory and fidelity with iperf3"
EXAMPLE = "sudo taplab bench taps --rates 50M,500M,unlimited --time 5 --repeats 3"
KINDS = ("none", "sidecar", "tc-mirred", "ebpf", "xdp-flowtable", "pcap")
RATES = "50M,100M,250M,500M,unlimited"
OPTIONS = {
    "pcap": {"snaplen": 128, "size_mb": 50, "files": 4},
    "ebpf": {"mirror": "none"},
    "xdp-flowtable": {"interval": 0.5},
}
PUBLISHED = {
    "sidecar": {
        "cpu_pct_node": {50: 2.25, 100: 4.05, 250: 8.0, 500: 11.8},
        "mem_mb": 14,
        "fewer_packets_at_collector_pct": {50: 5.3, 100: 13.0},
        "source": "sidecar tap in Kubernetes (thesis, 2023), 2-vCPU node; docs/experiments.md",
    },
    "ebpf": {
        "throughput_ratio": 0.897,
        "source": "5G microservice monitoring with eBPF "
        "(thesis, 2019), traced vs untraced; "
        "docs/experiments.md",
    },
}
FIDELITY_TARGET, COST_TARGET = 0.999, 0.05


def add_arguments(p) -> None:
    p.add_argument(
        "--kinds",
        default=",".join(KINDS),
        help=f"comma-separated tap kinds, 'none' for the untapped baseline "
        f"(default {','.join(KINDS)})",
    )
    p.add_argument("--rates", default=RATES, help=f"iperf3 rates (default {RATES})")
    p.add_argument("--time", type=float, default=5, help="seconds per iperf3 run (default 5)")
    p.add_argument("--repeats", type=int, default=3, help="runs per point (default 3)")
    p.add_argument(
        "--offloads",
        action="store_true",
        help="keep TSO/GSO/GRO on (packets are then 64 KB buffers, not wire packets)",
    )


def rate_mbps(rate: str) -> float | None:
    if rate == "unlimited":
        return None
    units = {"K": 1e-3, "M": 1.0, "G": 1e3}
    try:
        return float(rate[:-1]) * units[rate[-1].upper()] if rate[-1].isalpha() else float(rate)
    except (KeyError, ValueError):
        raise UserError(f"bad rate '{rate}': use e.g. 50M, 1G or unlimited.") from None


def receiver_counters(lab) -> dict[str, int]:
    """What the receiver's interface got from (rx) and sent to (tx) the client."""
    return intf_counters(lab, "server", "server-eth0")


def share(seen_before: dict, seen_after: dict, sent: dict, unit: str, both: bool) -> float | None:
    """What the tap (or collector) saw over what the receiver's interface counted."""
    expected = sent[f"rx_{unit}"] + (sent[f"tx_{unit}"] if both else 0)
    got = seen_after.get(unit, 0) - seen_before.get(unit, 0)
    return got / expected if expected else None


def one_run(lab, kind: str, tap: dict | None, rate: str, seconds: float) -> dict:
    tap_id = tap["id"] if tap else None
    before, coll_before = session.settled(lab, tap_id)
    sent_before = receiver_counters(lab)
    meter = CpuMeter(tap["pids"] if tap else [])
    result = iperf3(
        lab, "client", "server", seconds=seconds, rate=None if rate == "unlimited" else rate
    )
    cpu = meter.read()
    after, coll_after = session.settled(lab, tap_id)
    sent_after = receiver_counters(lab)
    sent = {c: sent_after[c] - sent_before[c] for c in COUNTERS}
    fidelity = byte_fidelity = None
    if tap:
        both = session.kinds()[kind].sees == "both"
        seen = (coll_before, coll_after) if tap["collector"] else (before, after)
        fidelity = share(*seen, sent, "packets", both)
        byte_fidelity = share(*seen, sent, "bytes", both)
    return {
        "mbps": result.mbps,
        "retransmits": result.retransmits,
        "fidelity": fidelity,
        "byte_fidelity": byte_fidelity,
        "collector_socket_drops": coll_after.get("socket_drops", 0)
        - coll_before.get("socket_drops", 0)
        if coll_after
        else None,
        "tap_cpu_pct_core": cpu["cpu_pct_core"],
        "tap_cpu_pct": cpu["cpu_pct_node"],
        "machine_busy_pct": cpu["machine_busy_pct"],
        "tap_mem_mb": rss_mb(tap["pids"]) if tap else 0.0,
        "receiver_packets": sent["rx_packets"] + sent["tx_packets"],
    }


def summarize(kind: str, rate: str, runs: list[dict], baseline: dict[str, float]) -> dict:
    mbps = [r["mbps"] for r in runs]

    def med(key):
        values = [r[key] for r in runs if r[key] is not None]
        return round(statistics.median(values), 4) if values else None

    median = statistics.median(mbps)
    return {
        "tap": kind,
        "rate": rate,
        "rate_mbps": rate_mbps(rate),
        "mbps": round(median, 1),
        "mbps_spread": round(max(mbps) - min(mbps), 1),
        "throughput_ratio": round(median / baseline[rate], 4) if baseline.get(rate) else None,
        "fidelity": med("fidelity"),
        "byte_fidelity": med("byte_fidelity"),
        "tap_cpu_pct": med("tap_cpu_pct"),
        "tap_cpu_pct_core": med("tap_cpu_pct_core"),
        "machine_busy_pct": med("machine_busy_pct"),
        "tap_mem_mb": med("tap_mem_mb"),
        "retransmits": int(statistics.median(r["retransmits"] for r in runs)),
        "repeats": runs,
    }


def measure(args, kinds: list[str], rates: list[str]) -> list[dict]:
    """Every kind at every rate, repeats interleaved (round after round over all kinds),
    so that the untapped baseline and the taps meet the same machine load."""
    runs: dict[tuple[str, str], list[dict]] = defaultdict(list)
    with Lab("bench-taps") as lab:
        testbed.build(lab)
        if not args.offloads:
            for name in testbed.ADDRESSES:
                offloads_off(lab, name, f"{name}-eth0")
        for round_no in range(1, args.repeats + 1):
            for kind in kinds:
                tap = None
                if kind != "none":
                    collector = "collector" if kind in ("sidecar", "tc-mirred") else None
                    tap = session.attach(
                        lab, "client", kind, collector=collector, **OPTIONS.get(kind, {})
                    )
                try:
                    for rate in rates:
                        with progress(f"round {round_no}/{args.repeats}: {kind} at {rate} ..."):
                            runs[kind, rate].append(one_run(lab, kind, tap, rate, args.time))
                finally:
                    if tap:
                        session.detach(lab, tap["id"])
    baseline = {rate: statistics.median(r["mbps"] for r in runs["none", rate]) for rate in rates}
    return [summarize(kind, rate, runs[kind, rate], baseline) for kind in kinds for rate in rates]


def findings(rows: list[dict]) -> dict:
    """The issue's targets and the sidecar's loss onset, from the measured rows."""

    def row(kind, rate):
        return next((r for r in rows if r["tap"] == kind and r["rate"] == rate), None)

    targets = {}
    for kind in ("tc-mirred", "ebpf"):
        at500, unlimited = row(kind, "500M"), row(kind, "unlimited")
        if at500 and at500["fidelity"] is not None:
            targets[f"{kind} fidelity >= 99.9 % at 500M"] = at500["fidelity"] >= FIDELITY_TARGET
        if unlimited and unlimited["throughput_ratio"] is not None:
            targets[f"{kind} costs < 5 % of unlimited throughput"] = (
                unlimited["throughput_ratio"] > 1 - COST_TARGET
            )
    sidecar = [r for r in rows if r["tap"] == "sidecar" and r["fidelity"] is not None]
    losing = [r for r in sidecar if r["fidelity"] < FIDELITY_TARGET]
    onset = losing[0]["rate"] if losing else None
    return {"targets": targets, "sidecar_loses_packets_from": onset}


def published_note(row: dict) -> str:
    if row["tap"] == "ebpf":
        return "89.7 % of throughput"
    pub = PUBLISHED["sidecar"]
    if row["tap"] != "sidecar" or row["rate_mbps"] is None:
        return ""
    rate = int(row["rate_mbps"])
    parts = []
    if rate in pub["cpu_pct_node"]:
        parts.append(f"CPU {pub['cpu_pct_node'][rate]} %, 14 MB")
    if rate in pub["fewer_packets_at_collector_pct"]:
        parts.append(f"{pub['fewer_packets_at_collector_pct'][rate]} % fewer")
    return "; ".join(parts)


def pct(value, digits=1) -> str:
    return "-" if value is None else f"{100 * value:.{digits}f}"


def table(rows: list[dict]) -> Table:
    t = Table(
        "tap",
        "rate",
        "Mb/s",
        "±",
        "% none",
        "fid %",
        "bytes %",
        "CPU %1",
        "CPU %node",
        "MB",
        "retr",
        "busy %",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for r in rows:
        t.add_row(
            r["tap"],
            r["rate"],
            f"{r['mbps']:.0f}",
            f"{r['mbps_spread'] / 2:.0f}",
            pct(r["throughput_ratio"]),
            pct(r["fidelity"], 2),
            pct(r["byte_fidelity"], 2),
            f"{r['tap_cpu_pct_core']:.1f}",
            f"{r['tap_cpu_pct']:.2f}",
            f"{r['tap_mem_mb']:.0f}",
            str(r["retransmits"]),
            f"{r['machine_busy_pct']:.0f}",
        )
    return fold(t)


def published_table(rows: list[dict]) -> Table:
    """Our sidecar and ebpf rows beside the published figures."""
    t = Table("tap", "rate", "ours", "published", box=box.SIMPLE_HEAD, pad_edge=False)
    for r in rows:
        note = published_note(r)
        if note:
            ours = (
                f"{pct(r['throughput_ratio'])} % of throughput"
                if r["tap"] == "ebpf"
                else f"CPU {r['tap_cpu_pct']:.2f} %, {r['tap_mem_mb']:.0f} MB, "
                f"{100 - 100 * (r['fidelity'] or 0):.1f} % fewer"
            )
            t.add_row(r["tap"], r["rate"], ours, note)
    return fold(t)


def plot(rows: list[dict], folder) -> list[str]:
    plt = pyplot()
    rates = list(dict.fromkeys(r["rate"] for r in rows))
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    panels = [
        ("throughput_ratio", "throughput vs untapped"),
        ("tap_cpu_pct", "tap CPU % of node"),
        ("fidelity", "fidelity (packets seen / sent)"),
    ]
    kinds = list(dict.fromkeys(r["tap"] for r in rows))
    for ax, (key, title) in zip(axes, panels, strict=True):
        for i, kind in enumerate(kinds):
            if kind == "none" and key != "throughput_ratio":
                continue
            points = [
                (rates.index(r["rate"]), r[key])
                for r in rows
                if r["tap"] == kind and r[key] is not None
            ]
            if points:
                ax.plot(*zip(*points, strict=True), marker="o", color=f"C{i}", label=kind)
        ax.set_xticks(range(len(rates)), rates)
        ax.set_title(title)
        ax.grid(alpha=0.3)
    published = PUBLISHED["sidecar"]["cpu_pct_node"]
    pub_points = [(rates.index(f"{r}M"), v) for r, v in published.items() if f"{r}M" in rates]
    if pub_points:
        axes[1].plot(*zip(*pub_points, strict=True), "k--x", label="sidecar, published")
    axes[0].axhline(
        PUBLISHED["ebpf"]["throughput_ratio"], color="grey", ls=":", label="eBPF traced, published"
    )
    for ax in axes:
        ax.legend(fontsize=7)
    return save_figure(fig, folder, "taps")


def run(args) -> int:
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = [k for k in kinds if k != "none" and k not in session.kinds()]
    if unknown:
        raise UserError(
            f"unknown tap kind(s) {', '.join(unknown)}: choose from {', '.join(KINDS)}."
        )
    if "none" not in kinds:
        kinds.insert(0, "none")  # the ratios need the untapped run of this session
    kinds.sort(key=lambda k: k != "none")
    rates = [r.strip() for r in args.rates.split(",") if r.strip()]
    for rate in rates:
        rate_mbps(rate)
    if args.time < 1 or args.repeats < 1:
        raise UserError(
            "--time must be at least 1 second (iperf3 takes whole seconds) "
            "and --repeats at least 1."
        )
    rows = measure(args, kinds, rates)
    data = {
        "runs": [
            {k: v for k, v in r.items() if k != "repeats"} | {"repeats": r["repeats"]} for r in rows
        ],
        **findings(rows),
        "published": PUBLISHED,
        "settings": {
            "kinds": kinds,
            "rates": rates,
            "seconds": args.time,
            "repeats": args.repeats,
            "offloads": args.offloads,
        },
    }
    folder = report_dir("taps", args.out)
    data["plots"] = plot(rows, folder)
    path = write_json(folder, "taps", data)
    if args.json:
        print_json(data)
        return 0
    console.print(table(rows))
    console.print(published_table(rows))
    for name, met in data["targets"].items():
        console.print(f"{'[green]met[/]' if met else '[red]not met[/]'}: {name}")
    onset = data["sidecar_loses_packets_from"]
    if "sidecar" in kinds:
        console.print(f"sidecar loses packets from: {onset or 'no measured rate'}")
    console.print(f"report: {path}")
    return 0
