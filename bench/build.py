"""``taplab bench build``: how long clusters take to build and tear down, next to Mininet.

For each size NxM, builds the ``cluster`` topology (N nodes, M pods each,
chosen overlay, its services) in a Lab and tears it down, then, in the same
run, has plain Mininet build and stop a single Linux bridge with the same
number of hosts (N + N*M). The figure is the ratio of the build times.
Memory is the proportional set size (PSS) of the processes each network runs
(node shells, helpers such as the services' backend): user-space memory only;
namespaces, veths and bridges live in the kernel.

    $ sudo taplab bench build --sizes 2x5,4x50
    nodes pods overlay build_s teardown_s plain_mininet_build_s ratio ...
"""

import time
from pathlib import Path

from mininet.net import Mininet
from mininet.nodelib import LinuxBridge
from mininet.topo import Topo
from rich.table import Table

from taplab import capabilities
from taplab.errors import UserError
from taplab.lab import Lab
from taplab.output import console, fold, print_json, progress
from taplab.report import report_dir, write_json
from taplab.topologies import registry

NAME = "build"
HELP = "build/teardown time and memory of clusters up to 4x50 pods, next to plain Mininet"
EXAMPLE = "sudo taplab bench build --sizes 2x5,4x50 --json"
DEFAULT_SIZES = "1x10,2x25,4x25,4x50"
QUICK_SIZES = "1x2,2x5"


def add_arguments(parser) -> None:
    parser.add_argument(
        "--sizes",
        default=DEFAULT_SIZES,
        help=f"cluster sizes NODESxPODS, comma-separated (default {DEFAULT_SIZES})",
    )
    parser.add_argument("--quick", action="store_true", help=f"sizes {QUICK_SIZES}")
    parser.add_argument("--overlay", default="vxlan", choices=["vxlan", "gre", "host-gw"])


def parse_sizes(text: str) -> list[tuple[int, int]]:
    sizes = []
    for item in text.split(","):
        try:
            nodes, pods = (int(x) for x in item.lower().split("x"))
        except ValueError:
            raise UserError(f"--sizes: '{item}' is not NODESxPODS (like 4x50).") from None
        if not (1 <= nodes <= 250 and 0 <= pods <= 250):
            raise UserError(f"--sizes: {item} must have 1-250 nodes and 0-250 pods.")
        sizes.append((nodes, pods))
    return sizes


def pss_mb(pids) -> float:
    """Total proportional set size of pids, in MB (processes that are gone count 0)."""
    total = 0
    for pid in set(pids):
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        total += sum(int(line.split()[1]) for line in text.splitlines() if line.startswith("Pss:"))
    return total / 1024


def _net_pids(net) -> list[int]:
    return [n.pid for n in (*net.hosts, *net.switches) if getattr(n, "pid", None)]


def measure_cluster(nodes: int, pods: int, overlay: str) -> dict:
    build = registry.prepare("cluster", nodes=nodes, pods=pods, overlay=overlay)
    with Lab("bench-build") as lab:
        start = time.perf_counter()
        build(lab)
        build_s = time.perf_counter() - start
        helpers = [r["pid"] for r in lab.state.resources if r["kind"] == "process"]
        mem = pss_mb(_net_pids(lab.net) + helpers)
        start = time.perf_counter()
    teardown_s = time.perf_counter() - start
    return {"build_s": build_s, "teardown_s": teardown_s, "mem_mb": mem}


class _SingleSwitch(Topo):
    def build(self, switch: str, hosts: int) -> None:
        s = self.addSwitch(switch, dpid="1")
        for i in range(1, hosts + 1):
            self.addLink(self.addHost(f"h{i}"), s)


def measure_plain(hosts: int) -> dict:
    """Plain Mininet: one Linux bridge (lab-unique name, recorded) and hosts."""
    with Lab("bench-plain") as lab:
        switch = lab.root_name("s")
        lab.record({"kind": "link", "name": switch})
        start = time.perf_counter()
        net = Mininet(
            topo=_SingleSwitch(switch=switch, hosts=hosts),
            switch=LinuxBridge,
            controller=None,
            autoSetMacs=True,
            waitConnected=False,
            build=False,
        )
        try:
            net.build()
            net.start()
            build_s = time.perf_counter() - start
            mem = pss_mb(_net_pids(net))
        finally:
            start = time.perf_counter()
            net.stop()
            stop_s = time.perf_counter() - start
    return {"build_s": build_s, "teardown_s": stop_s, "mem_mb": mem}


def run(args) -> int:
    sizes = parse_sizes(QUICK_SIZES if args.quick else args.sizes)
    capabilities.require("iptables")
    runs = []
    for nodes, pods in sizes:
        with progress(f"{nodes}x{pods}: building the cluster and plain Mininet ..."):
            ours = measure_cluster(nodes, pods, args.overlay)
            plain = measure_plain(nodes + nodes * pods)
        runs.append(
            {
                "nodes": nodes,
                "pods": pods,
                "overlay": args.overlay,
                "hosts": nodes + nodes * pods,
                "build_s": round(ours["build_s"], 3),
                "teardown_s": round(ours["teardown_s"], 3),
                "mem_mb": round(ours["mem_mb"], 1),
                "plain_mininet_build_s": round(plain["build_s"], 3),
                "plain_mininet_teardown_s": round(plain["teardown_s"], 3),
                "plain_mininet_mem_mb": round(plain["mem_mb"], 1),
                "ratio": round(ours["build_s"] / plain["build_s"], 2),
            }
        )
    data = {"runs": runs}
    folder = report_dir("build", args.out)
    write_json(folder, "build", data)
    png = plot(runs, folder / "build.png")
    if args.json:
        print_json({**data, "report": str(folder)})
        return 0
    table = Table(
        title=f"{args.overlay} cluster, N nodes x M pods, vs plain Mininet (mn) "
        "single bridge; seconds, PSS MB",
        padding=(0, 1),
    )
    columns = {
        "nodes": "N",
        "pods": "M",
        "hosts": "hosts",
        "build_s": "build",
        "teardown_s": "down",
        "mem_mb": "MB",
        "plain_mininet_build_s": "mn build",
        "plain_mininet_teardown_s": "mn down",
        "plain_mininet_mem_mb": "mn MB",
        "ratio": "ratio",
    }
    for header in columns.values():
        table.add_column(header, justify="right", no_wrap=True)
    for r in runs:
        table.add_row(*(f"{r[c]:.2f}" if isinstance(r[c], float) else str(r[c]) for c in columns))
    console.print(fold(table))
    console.print(f"report: {folder / 'build.json'}, plot: {png}")
    return 0


def plot(runs: list[dict], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hosts = [r["hosts"] for r in runs]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(hosts, [r["build_s"] for r in runs], "o-", label="taplab cluster build")
    ax.plot(hosts, [r["teardown_s"] for r in runs], "s--", label="taplab cluster teardown")
    ax.plot(
        hosts,
        [r["plain_mininet_build_s"] for r in runs],
        "^-",
        label="plain Mininet build (single bridge)",
    )
    ax.set_xlabel("hosts (nodes + pods)")
    ax.set_ylabel("seconds")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
