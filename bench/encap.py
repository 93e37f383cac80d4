"""``taplab bench encap``: what each encapsulation costs, and where it fragments.

The VXLAN-over-GRE homework's question, measured. Paths, each on its own lab,
on two topologies:

- ``cluster`` (2 nodes, a pod each): ``none`` is node1 to node2 over the
  underlay (no pod network at all); ``host-gw``, ``vxlan`` and ``gre`` are pod1
  (node1) to pod2 (node2) with that overlay;
- ``spine-leaf`` (the homework's fabric, built with ``options.encap``): h1 to h2
  routed through leaves and spine (``none``), over VXLAN VNI 42 between the
  VTEPs (``vxlan``), routed through a GRE tunnel between the leaves (``gre``),
  and VXLAN through that tunnel (``vxlan-over-gre``).

``host-gw`` needs nodes on one link, so it is a cluster path only; VXLAN over
GRE is the spine-leaf homework's. Where the kernel lacks GRE, the GRE paths run
on Open vSwitch's userspace GRE ports: they are labelled ``(OVS userspace)`` and
their costs are those of a userspace datapath, not of the kernel's GRE.

Per path: TCP throughput (iperf3, offloads as the lab has them), TCP
request/response latency (100-byte requests, 200-byte responses), the
machine's busy CPU per Gb/s during iperf3 (all of the machine: other load on a
shared machine counts too, its load average is recorded), the effective MTU (the
largest IP packet that crosses with DF set), and a size sweep with every MTU of
the lab left at 1500: ICMP echo packets of growing size without DF, counting
the fragments the nodes create (``FragCreates``) and whether the reply came
(Open vSwitch's userspace GRE drops what does not fit rather than fragmenting).

Published, beside ours (the VXLAN-over-GRE homework, docs/experiments.md): MTU
1450 for VXLAN and 1476 for GRE over a 1500-byte underlay, so 1426 for VXLAN
through GRE; a GRE packet is the inner packet plus 4 bytes.
"""

import os
import re
import time
from dataclasses import dataclass

from rich import box
from rich.table import Table

from taplab import capabilities
from taplab.bench import rr
from taplab.bench.record import publish, pyplot, save_figure
from taplab.errors import UserError
from taplab.lab import Lab
from taplab.measure import iperf3
from taplab.output import fold, progress
from taplab.taps.procstat import CpuMeter
from taplab.topologies import registry

NAME = "encap"
HELP = "measure throughput, latency, CPU and MTU of no overlay, host-gw, VXLAN, GRE, VXLAN over GRE"
EXAMPLE = "sudo taplab bench encap --time 5"
SIZES = (1300, 1400, 1420, 1426, 1430, 1450, 1460, 1476, 1480, 1500)
QUICK = {"time": 1.0, "sizes": (1400, 1450, 1500)}
PUBLISHED = {
    "source": "VXLAN over GRE homework (university lab); see docs/experiments.md",
    "mtu": {"vxlan": 1450, "gre": 1476, "vxlan-over-gre": 1426},
    "gre_overhead_bytes": 4,
}


@dataclass(frozen=True)
class Path:
    name: str
    topology: str
    options: dict
    client: str
    server: str

    def target(self, lab) -> str:
        if self.topology == "spine-leaf":
            return lab.meta["tenants"][self.server]
        if self.name == "none":
            return lab.meta["k8s_nodes"][self.server]["underlay_ip"]
        return lab.meta["pods"][self.server]["ip"]


CLUSTER = {"nodes": 2, "pods": 1}
PATHS = [
    Path("none", "cluster", {**CLUSTER, "overlay": "host-gw"}, "node1", "node2"),
    Path("host-gw", "cluster", {**CLUSTER, "overlay": "host-gw"}, "pod1", "pod2"),
    *[Path(o, "cluster", {**CLUSTER, "overlay": o}, "pod1", "pod2") for o in ("vxlan", "gre")],
    *[
        Path(e, "spine-leaf", {"encap": e}, "h1", "h2")
        for e in ("none", "vxlan", "gre", "vxlan-over-gre")
    ],
]
NAMES = list(dict.fromkeys(p.name for p in PATHS))
TOPOLOGIES = list(dict.fromkeys(p.topology for p in PATHS))


def add_arguments(p) -> None:
    p.add_argument(
        "--paths",
        default=",".join(NAMES),
        help=f"on each topology that has them (default {','.join(NAMES)})",
    )
    p.add_argument(
        "--topologies", default=",".join(TOPOLOGIES), help=f"default {','.join(TOPOLOGIES)}"
    )
    p.add_argument("--time", type=float, default=5, help="seconds per measurement (default 5)")
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK['time']:.0f} s per measurement, sizes {QUICK['sizes']}",
    )


def label(path: str) -> str:
    gre_in_ovs = "gre" in path and not capabilities.available("gre")
    return f"{path} (OVS userspace)" if gre_in_ovs else path


def ping(lab, node: str, target: str, size: int, df: bool) -> bool:
    """One ICMP echo of an IP packet of size bytes, DF set or not; True when answered."""
    argv = ["ping", "-c", "1", "-W", "1", "-M", "do" if df else "dont", "-s", str(size - 28)]
    return " 0% packet loss" in lab.sh(node, [*argv, target], check=False)


def effective_mtu(lab, path: Path, low: int = 1200, high: int = 1500) -> int | None:
    """The largest IP packet that crosses with DF set (binary search), None if not low."""
    target = path.target(lab)
    if not ping(lab, path.client, target, low, df=True):
        return None
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if ping(lab, path.client, target, mid, df=True) else (low, mid - 1)
    return low


def frag_creates(lab) -> int:
    """Fragments every node of the lab created (IPv4 FragCreates of their namespaces)."""
    total = 0
    for node in lab.nodes:
        snmp = lab.sh(node, ["cat", "/proc/net/snmp"], check=False).splitlines()
        ip = [line.split()[1:] for line in snmp if line.startswith("Ip:")]
        if len(ip) == 2 and "FragCreates" in ip[0]:
            total += int(ip[1][ip[0].index("FragCreates")])
    return total


def mtus_to_1500(lab) -> list[str]:
    """Every interface of every lab node below 1500 set to 1500, and the path MTUs the
    nodes learnt from the DF probes forgotten; the interfaces that refused."""
    refused = []
    for node in lab.nodes:
        out = lab.sh(node, ["ip", "-o", "link", "show"], check=False)
        for name, mtu in re.findall(r"^\d+: ([^:@]+)[^\n]*? mtu (\d+)", out, flags=re.M):
            if int(mtu) < 1500 and name != "lo":
                done = lab.sh(node, ["ip", "link", "set", "dev", name, "mtu", "1500"], check=False)
                if done.strip():
                    refused.append(f"{node}:{name}")
        lab.sh(node, ["ip", "route", "flush", "cache"], check=False)
    return refused


def sweep(lab, path: Path, sizes) -> list[dict]:
    target, out = path.target(lab), []
    ping(lab, path.client, target, 100, df=False)  # neighbours resolved first
    for size in sizes:
        before = frag_creates(lab)
        answered = ping(lab, path.client, target, size, df=False)
        out.append({"size": size, "answered": answered, "fragments": frag_creates(lab) - before})
    return out


def measure_path(path: Path, seconds: float, sizes) -> dict:
    with Lab(f"bench-encap-{path.topology}-{path.name}") as lab:
        registry.build(lab, path.topology, **path.options)
        target = path.target(lab)
        rr.start_server(lab, path.server)
        meter = CpuMeter([])
        tput = iperf3(lab, path.client, path.server, seconds=seconds, target=target)
        busy = meter.read()["machine_busy_pct"]
        latency = rr.between(lab, path.client, target, seconds)
        mtu = effective_mtu(lab, path)
        refused = mtus_to_1500(lab)
        swept = sweep(lab, path, sizes)
    gbps = tput.mbps / 1000
    cores = busy / 100 * (os.cpu_count() or 1)
    first_frag = next((s["size"] for s in swept if s["fragments"]), None)
    first_lost = next((s["size"] for s in swept if not s["answered"]), None)
    return {
        "topology": path.topology,
        "path": label(path.name),
        "gbps": round(gbps, 3),
        "retransmits": tput.retransmits,
        "rr_mean_us": latency["mean_us"],
        "rr_p99_us": latency["p99_us"],
        "machine_busy_pct": round(busy, 1),
        "cores_per_gbps": round(cores / gbps, 3) if gbps else None,
        "effective_mtu": mtu,
        "fragments_from": first_frag,
        "lost_from": first_lost,
        "mtu_refused": refused,
        "sweep": swept,
    }


FIELDS = [
    "topology",
    "path",
    "gbps",
    "gbps_ratio",
    "rr_mean_us",
    "rr_p99_us",
    "rr_ratio",
    "machine_busy_pct",
    "cores_per_gbps",
    "effective_mtu",
    "fragments_from",
    "lost_from",
    "retransmits",
]


def table(rows: list[dict]) -> Table:
    """One section per topology, headed by its name; MTU ours (published). RR p99 is in the
    JSON and CSV only, so that the table fits 80 columns."""
    t = Table(
        "path",
        "Gb/s",
        "% none",
        "RR µs",
        "cores\nper Gb/s",
        "MTU\n(published)",
        "fragments /\nlost from",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for i, r in enumerate(rows):
        if i == 0 or rows[i - 1]["topology"] != r["topology"]:
            t.add_row(f"[bold]{r['topology']}[/]", end_section=False)
        pub = PUBLISHED["mtu"].get(r["path"].split()[0])
        t.add_row(
            r["path"].replace(" (", "\n("),
            f"{r['gbps']:.2f}",
            f"{100 * (r['gbps_ratio'] or 0):.0f}",
            f"{r['rr_mean_us']:.1f}",
            "-" if r["cores_per_gbps"] is None else f"{r['cores_per_gbps']:.2f}",
            f"{r['effective_mtu'] or '-'}" + (f" ({pub})" if pub else ""),
            f"{r['fragments_from'] or 'none'} / {r['lost_from'] or 'none'}",
            end_section=i + 1 == len(rows) or rows[i + 1]["topology"] != r["topology"],
        )
    return fold(t)


def plot(rows: list[dict], folder) -> list[str]:
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(18, 5))
    names = [f"{r['topology']}: {r['path']}" for r in rows]
    colours = [f"C{TOPOLOGIES.index(r['topology'])}" for r in rows]
    axes[0].bar(names, [r["gbps"] for r in rows], color=colours)
    axes[0].set_title("TCP throughput (Gb/s)")
    axes[1].bar(names, [r["rr_mean_us"] for r in rows], color=colours)
    axes[1].set_title("request/response latency (µs, mean)")
    for i, (name, r) in enumerate(zip(names, rows, strict=True)):
        sizes = [s["size"] for s in r["sweep"]]
        style = "-" if r["topology"] == TOPOLOGIES[0] else "--"
        axes[2].plot(
            sizes,
            [s["fragments"] for s in r["sweep"]],
            style,
            marker="o",
            color=f"C{i}",
            label=name,
        )
    for path, mtu in PUBLISHED["mtu"].items():
        axes[2].axvline(mtu, ls=":", color="grey")
        axes[2].text(mtu, 0.2, f"{path} {mtu} (published)", rotation=90, fontsize=6)
    axes[2].set_title("fragments per echo, MTUs left at 1500")
    axes[2].set_xlabel("IP packet size (bytes)")
    axes[2].legend(fontsize=7)
    for ax in axes[:2]:
        ax.tick_params(axis="x", labelrotation=35, labelsize=7)
        for tick in ax.get_xticklabels():
            tick.set_horizontalalignment("right")
    return save_figure(fig, folder, "encap")


def chosen(args) -> list[Path]:
    """The paths --paths and --topologies select, in PATHS order."""
    names = [p.strip() for p in args.paths.split(",") if p.strip()]
    topos = [t.strip() for t in args.topologies.split(",") if t.strip()]
    for given, known, flag in ((names, NAMES, "--paths"), (topos, TOPOLOGIES, "--topologies")):
        unknown = [g for g in given if g not in known]
        if unknown or not given:
            raise UserError(f"{flag} takes {', '.join(known)}, not '{','.join(unknown)}'.")
    paths = [p for p in PATHS if p.name in names and p.topology in topos]
    if not paths:
        raise UserError(
            f"no path {','.join(names)} on {','.join(topos)}: host-gw is a cluster path, "
            "vxlan-over-gre a spine-leaf one."
        )
    return paths


def run(args) -> int:
    paths = chosen(args)
    if args.time < 1:
        raise UserError("--time must be at least 1 second (iperf3 takes whole seconds).")
    seconds, sizes = (QUICK["time"], QUICK["sizes"]) if args.quick else (args.time, SIZES)
    started, rows = time.time(), []
    for path in paths:
        with progress(f"{path.topology}: {label(path.name)}: building and measuring ..."):
            rows.append(measure_path(path, seconds, sizes))
    baseline = {}
    for r in rows:  # against the first path measured on the same topology (none, by default)
        base = next(b for b in rows if b["topology"] == r["topology"])
        baseline[r["topology"]] = base["path"]
        r["gbps_ratio"] = round(r["gbps"] / base["gbps"], 4) if base["gbps"] else None
        r["rr_ratio"] = round(r["rr_mean_us"] / base["rr_mean_us"], 4)
    data = {
        "rows": rows,
        "baseline": baseline,
        "published": PUBLISHED,
        "settings": {
            "paths": [f"{p.topology}/{p.name}" for p in paths],
            "seconds": seconds,
            "sizes": list(sizes),
            "quick": args.quick,
            "kernel_gre": capabilities.available("gre"),
        },
        "elapsed_s": round(time.time() - started, 1),
    }
    return publish(
        "encap",
        args,
        data,
        FIELDS,
        plot,
        table(rows),
        "ratios against "
        + ", ".join(f"{path} on {topo}" for topo, path in baseline.items())
        + ", measured in this run; published (VXLAN over "
        "GRE homework, docs/experiments.md): MTU 1450 VXLAN, 1476 GRE, 1426 both",
    )
