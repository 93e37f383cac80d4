"""``taplab bench taps``: what each tap kind costs and how much it misses.

For no tap and each tap kind on the client pod of a small lab (``taps.testbed``:
client, server and collector pods on one bridge), iperf3 (``--json``) runs from
client to server at each rate, ``--repeats`` times. Per run it records the
throughput as a share of the untapped median at the same rate (same session),
the tap's CPU (its processes, % of one core and of the node, from /proc) and
memory, its fidelity (packets and bytes at the collector, or counted by the
tap for the non-mirroring kinds, over the receiver's interface counters in the
directions the tap sees: the sender's own counters would include the tap's
copies) and TCP retransmits. The ``tc-mirred`` tap's CPU is its NAPI thread's;
the ebpf and XDP programs run in whatever context the packet is in, so their
cost shows in the throughput ratio and in the machine's busy share (all cores,
and the busiest: one TCP flow is bound by its busiest core), printed too.

Each figure is measured twice (``--offloads``): with segmentation offloads
``off`` on the pods, so that a packet is a wire-sized packet and per-packet costs
show, and ``on``, as Linux and Kubernetes leave a pod's veth (TSO and GSO on:
a tap on the pod's interface sees 64 KB buffers, as the published sidecar did).

At unlimited rate it also measures the floor under the kernel taps: an empty
eBPF program at the ``xdp-flowtable`` tap's hook (``xdp-pass``) and at the
``ebpf`` tap's (``tc-pass``), so that the hook's own price and the tap's work
show apart (``hook_floor``).

Published, beside ours: the sidecar tap used 2.25 / 4.05 / 8 / 11.8 % of a
2-vCPU node at 50 / 100 / 250 / 500 Mb/s and 14 MB, and its collector saw 5.3 %
(50 Mb/s) and 13 % (100 Mb/s) fewer packets than the receiver; an eBPF tracer
kept 89.7 % of untraced throughput.
"""

import statistics
from collections import defaultdict
from contextlib import contextmanager

from rich import box
from rich.table import Table

from taplab.bench import hook_floor
from taplab.bench.record import publish, pyplot, save_figure
from taplab.errors import UserError
from taplab.lab import Lab
from taplab.measure import COUNTERS, intf_counters, iperf3, offloads_off
from taplab.output import fold, progress
from taplab.taps import session, testbed
from taplab.taps.procstat import CpuMeter, rss_mb
from taplab.taps.target import resolve

NAME = "taps"
HELP = "measure each tap kind's throughput cost, CPU, memory and fidelity with iperf3"
EXAMPLE = "sudo taplab bench taps --rates 50M,500M,unlimited --time 5 --repeats 3"
TAP_KINDS = ("sidecar", "tc-mirred", "ebpf", "xdp-flowtable", "pcap")
KINDS = ("none", *TAP_KINDS, *hook_floor.KINDS)
RATES = "50M,100M,250M,500M,unlimited"
QUICK = {"rates": "100M,unlimited", "time": 1.0, "repeats": 1}
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
# The targets the bench checks: fidelity, throughput at unlimited rate, memory, and
# retransmits beyond the untapped run's at the same rate.
FIDELITY_TARGET, THROUGHPUT_TARGET, MEMORY_TARGET_MB, EXTRA_RETRANSMITS = 0.999, 0.95, 30, 10
FLOOR = {"ebpf": "tc-pass", "xdp-flowtable": "xdp-pass"}
FIELDS = [
    "offloads",
    "tap",
    "rate",
    "rate_mbps",
    "mbps",
    "mbps_spread",
    "throughput_ratio",
    "fidelity",
    "byte_fidelity",
    "tap_cpu_pct",
    "tap_cpu_pct_core",
    "machine_busy_pct",
    "busiest_core_pct",
    "tap_mem_mb",
    "retransmits",
]


def add_arguments(p) -> None:
    p.add_argument(
        "--kinds",
        default=",".join(KINDS),
        help=f"comma-separated tap kinds, 'none' for the untapped baseline, xdp-pass and "
        f"tc-pass for the empty hooks, measured at unlimited rate only "
        f"(default {','.join(KINDS)})",
    )
    p.add_argument("--rates", default=RATES, help=f"iperf3 rates (default {RATES})")
    p.add_argument("--time", type=float, default=5, help="seconds per iperf3 run (default 5)")
    p.add_argument("--repeats", type=int, default=3, help="runs per point (default 3)")
    p.add_argument(
        "--offloads",
        choices=("off", "on", "both"),
        default="both",
        help="segmentation offloads on the pods: off (a packet is a wire packet), on (as "
        "Linux leaves a veth: the taps see 64 KB buffers) or both (default)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"rates {QUICK['rates']}, {QUICK['time']:.0f} s per run, one round",
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
        "busiest_core_pct": cpu["busiest_core_pct"],
        "tap_mem_mb": rss_mb(tap["pids"]) if tap else 0.0,
        "receiver_packets": sent["rx_packets"] + sent["tx_packets"],
    }


def summarize(setting: str, kind: str, rate: str, runs: list[dict], baseline: float) -> dict:
    mbps = [r["mbps"] for r in runs]

    def med(key):
        values = [r[key] for r in runs if r[key] is not None]
        return round(statistics.median(values), 4) if values else None

    median = statistics.median(mbps)
    return {
        "offloads": setting,
        "tap": kind,
        "rate": rate,
        "rate_mbps": rate_mbps(rate),
        "mbps": round(median, 1),
        "mbps_spread": round(max(mbps) - min(mbps), 1),
        "throughput_ratio": round(median / baseline, 4) if baseline else None,
        "fidelity": med("fidelity"),
        "byte_fidelity": med("byte_fidelity"),
        "tap_cpu_pct": med("tap_cpu_pct"),
        "tap_cpu_pct_core": med("tap_cpu_pct_core"),
        "machine_busy_pct": med("machine_busy_pct"),
        "busiest_core_pct": med("busiest_core_pct"),
        "tap_mem_mb": med("tap_mem_mb"),
        "retransmits": int(statistics.median(r["retransmits"] for r in runs)),
        "repeats": runs,
    }


@contextmanager
def attached(lab, kind: str):
    """kind on the client pod for the duration: its tap record (None for no tap and the
    empty hooks, which have no process and count nothing)."""
    if kind == "none":
        yield None
    elif kind in hook_floor.KINDS:
        target = resolve(lab, "client", host_side=True)
        hook_floor.attach(lab, target, kind)
        try:
            yield None
        finally:
            hook_floor.detach(lab, target, kind)
    else:
        collector = "collector" if kind in ("sidecar", "tc-mirred") else None
        tap = session.attach(lab, "client", kind, collector=collector, **OPTIONS.get(kind, {}))
        try:
            yield tap
        finally:
            session.detach(lab, tap["id"])


def measure(args, kinds: list[str], rates: list[str], settings: list[str]) -> list[dict]:
    """Every kind at every rate under each offload setting; within a setting, repeats are
    interleaved (round after round over all kinds), so that the untapped baseline and the
    taps meet the same machine load. The empty hooks run at unlimited rate only."""
    runs: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    with Lab("bench-taps") as lab:
        testbed.build(lab)
        for setting in settings:  # "on" first: a veth starts with its offloads on
            if setting == "off":
                for name in testbed.ADDRESSES:
                    offloads_off(lab, name, f"{name}-eth0")
            for round_no in range(1, args.repeats + 1):
                for kind in kinds:
                    kind_rates = [
                        r for r in rates if kind not in hook_floor.KINDS or r == "unlimited"
                    ]
                    if not kind_rates:
                        continue
                    with attached(lab, kind) as tap:
                        for rate in kind_rates:
                            what = f"offloads {setting}, round {round_no}/{args.repeats}: {kind}"
                            with progress(f"{what} at {rate} ..."):
                                run = one_run(lab, kind, tap, rate, args.time)
                            runs[setting, kind, rate].append(run)
    rows = []
    for setting in settings:
        base = {r: statistics.median(x["mbps"] for x in runs[setting, "none", r]) for r in rates}
        rows += [
            summarize(setting, kind, rate, runs[setting, kind, rate], base[rate])
            for kind in kinds
            for rate in rates
            if runs[setting, kind, rate]
        ]
    return rows


def targets(rows: list[dict]) -> dict[str, dict]:
    """The issue's targets for the taps, per offload setting, from the measured rows:
    {name: {"met": bool, "ours": text, "floor": text, when an empty hook was measured}}."""
    found = {}
    for setting in dict.fromkeys(r["offloads"] for r in rows):
        found |= setting_targets([r for r in rows if r["offloads"] == setting], setting)
    return found


def setting_targets(rows: list[dict], setting: str) -> dict[str, dict]:
    """targets() for the rows of one offload setting."""
    found = {}

    def row(kind, rate):
        return next((r for r in rows if (r["tap"], r["rate"]) == (kind, rate)), None)

    def check(name, met, ours, **notes):
        found[f"{name} (offloads {setting})"] = {"met": met, "ours": ours} | {
            key: note for key, note in notes.items() if note
        }

    for rate_mbps_, published in PUBLISHED["sidecar"]["cpu_pct_node"].items():
        r = row("sidecar", f"{rate_mbps_}M")
        if r:
            check(
                f"sidecar CPU <= published {published} % at {r['rate']}",
                r["tap_cpu_pct"] <= published,
                f"{r['tap_cpu_pct']:.2f} %",
            )
    r = row("sidecar", "500M")
    if r and r[seen(setting)] is not None:
        check(
            "sidecar fidelity >= 99.9 % at 500M",
            r[seen(setting)] >= FIDELITY_TARGET,
            f"{pct(r[seen(setting)], 2)} %",
        )
    for r in rows:
        if r["tap"] == "tc-mirred" and r["rate_mbps"]:
            extra = r["retransmits"] - row("none", r["rate"])["retransmits"]
            check(
                f"tc-mirred adds <= {EXTRA_RETRANSMITS} retransmits at {r['rate']}",
                extra <= EXTRA_RETRANSMITS,
                f"{extra:+d}",
            )
    untapped = row("none", "unlimited")
    for kind in ("tc-mirred", "ebpf", "xdp-flowtable", "pcap"):
        r = row(kind, "unlimited")
        if r and r["throughput_ratio"] is not None:
            floor = row(FLOOR.get(kind), "unlimited")
            check(
                f"{kind} >= 95 % of untapped throughput at unlimited rate",
                r["throughput_ratio"] >= THROUGHPUT_TARGET,
                f"{pct(r['throughput_ratio'])} %",
                floor=f"the empty {floor['tap']} hook alone: {pct(floor['throughput_ratio'])} %"
                if floor
                else None,
                # A single TCP flow is bound by its busiest core: work a tap adds there costs
                # throughput, and work on the other core costs it once that one is full too.
                cpu=f"busiest core {r['busiest_core_pct']:.0f} % (untapped "
                f"{untapped['busiest_core_pct']:.0f} %), all cores {r['machine_busy_pct']:.0f} %"
                f" ({untapped['machine_busy_pct']:.0f} %), the tap's processes "
                f"{r['tap_cpu_pct_core']:.0f} % of a core",
            )
    for kind in ("ebpf", "xdp-flowtable"):
        memory = [r["tap_mem_mb"] for r in rows if r["tap"] == kind]
        if memory:
            check(
                f"{kind} resident memory < {MEMORY_TARGET_MB} MB",
                max(memory) < MEMORY_TARGET_MB,
                f"{max(memory):.0f} MB",
            )
    return found


def loss_onset(rows: list[dict]) -> dict[str, str | None]:
    """Per offload setting, the lowest measured rate at which the sidecar loses packets."""
    onset: dict[str, str | None] = {}
    for r in rows:
        fidelity = r[seen(r["offloads"])]
        if r["tap"] == "sidecar" and fidelity is not None:
            onset.setdefault(r["offloads"], None)
            if fidelity < FIDELITY_TARGET and onset[r["offloads"]] is None:
                onset[r["offloads"]] = r["rate"]
    return onset


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


def seen(setting: str) -> str:
    """The fidelity that compares under an offload setting: with offloads on, a tap may
    count a 64 KB buffer or its segments where the receiver counts the other, so bytes."""
    return "byte_fidelity" if setting == "on" else "fidelity"


def table(rows: list[dict], setting: str) -> Table:
    unit = "bytes" if seen(setting) == "byte_fidelity" else "packets"
    t = Table(
        "tap",
        "rate",
        "Mb/s",
        "%none",
        "fid%",
        "CPU%",
        "MB",
        "retr",
        "busy%",
        title=f"offloads {setting}: fid% of the {unit} sent, CPU% of the node, busy% of "
        "all cores / the busiest core",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for r in rows:
        if r["offloads"] == setting:
            t.add_row(
                r["tap"],
                r["rate"],
                f"{r['mbps']:.0f}±{r['mbps_spread'] / 2:.0f}",
                pct(r["throughput_ratio"]),
                pct(r[seen(setting)], 2),
                f"{r['tap_cpu_pct']:.2f}",
                f"{r['tap_mem_mb']:.0f}",
                str(r["retransmits"]),
                f"{r['machine_busy_pct']:.0f}/{r['busiest_core_pct']:.0f}",
            )
    return fold(t)


def published_table(rows: list[dict]) -> Table:
    """Our sidecar and ebpf rows beside the published figures."""
    sources = "; ".join(PUBLISHED[kind]["source"] for kind in ("sidecar", "ebpf"))
    t = Table(
        "tap",
        "offl",
        "rate",
        "ours",
        "published",
        caption=f"published: {sources}",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for r in rows:
        note = published_note(r)
        if note:
            ours = (
                f"{pct(r['throughput_ratio'])} % of throughput"
                if r["tap"] == "ebpf"
                else f"CPU {r['tap_cpu_pct']:.2f} %, {r['tap_mem_mb']:.0f} MB, "
                f"{100 - 100 * (r[seen(r['offloads'])] or 0):.1f} % fewer"
            )
            t.add_row(r["tap"], r["offloads"], r["rate"], ours, note)
    return fold(t)


def plot(rows: list[dict], folder) -> list[str]:
    plt = pyplot()
    rates = list(dict.fromkeys(r["rate"] for r in rows))
    settings = list(dict.fromkeys(r["offloads"] for r in rows))
    fig, grid = plt.subplots(len(settings), 3, figsize=(15, 4.5 * len(settings)), squeeze=False)
    panels = [
        ("throughput_ratio", "throughput vs untapped"),
        ("tap_cpu_pct", "tap CPU % of node"),
        ("fidelity", "fidelity (seen / sent)"),
    ]
    kinds = list(dict.fromkeys(r["tap"] for r in rows))
    published = PUBLISHED["sidecar"]["cpu_pct_node"]
    pub_points = [(rates.index(f"{r}M"), v) for r, v in published.items() if f"{r}M" in rates]
    for setting, axes in zip(settings, grid, strict=True):
        for ax, (key, title) in zip(axes, panels, strict=True):
            key = seen(setting) if key == "fidelity" else key
            for i, kind in enumerate(kinds):
                if kind == "none" and key != "throughput_ratio":
                    continue
                points = [
                    (rates.index(r["rate"]), r[key])
                    for r in rows
                    if (r["offloads"], r["tap"]) == (setting, kind) and r[key] is not None
                ]
                if points:
                    ax.plot(*zip(*points, strict=True), marker="o", color=f"C{i}", label=kind)
            ax.set_xticks(range(len(rates)), rates)
            ax.set_title(f"{title}, offloads {setting}")
            ax.grid(alpha=0.3)
        if pub_points:
            axes[1].plot(*zip(*pub_points, strict=True), "k--x", label="sidecar, published")
        axes[0].axhline(
            PUBLISHED["ebpf"]["throughput_ratio"],
            color="grey",
            ls=":",
            label="eBPF traced, published",
        )
        for ax in axes:
            ax.legend(fontsize=7)
    return save_figure(fig, folder, "taps")


def parse(args) -> tuple[list[str], list[str], list[str]]:
    """The kinds, rates and offload settings to measure, or one sentence on what is wrong."""
    if args.quick:
        args.rates, args.time, args.repeats = QUICK["rates"], QUICK["time"], QUICK["repeats"]
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in KINDS]
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
    settings = ["on", "off"] if args.offloads == "both" else [args.offloads]
    return kinds, rates, settings


def run(args) -> int:
    kinds, rates, settings = parse(args)
    rows = measure(args, kinds, rates, settings)
    data = {
        "rows": rows,
        "targets": targets(rows),
        "sidecar_loses_packets_from": loss_onset(rows),
        "published": PUBLISHED,
        "settings": {
            "kinds": kinds,
            "rates": rates,
            "seconds": args.time,
            "repeats": args.repeats,
            "offloads": settings,
            "quick": args.quick,
        },
    }
    lines = []
    for name, result in data["targets"].items():
        notes = "".join(f"; {result[key]}" for key in ("floor", "cpu") if key in result)
        verdict = "[green]met[/]" if result["met"] else "[red]not met[/]"
        lines.append(f"{verdict}: {name}: {result['ours']}{notes}")
    if "sidecar" in kinds:
        for setting in settings:
            onset = data["sidecar_loses_packets_from"].get(setting)
            lines.append(
                f"sidecar loses packets (offloads {setting}) from: {onset or 'no measured rate'}"
            )
    tables = [table(rows, setting) for setting in settings]
    return publish("taps", args, data, FIELDS, plot, *tables, published_table(rows), *lines)
