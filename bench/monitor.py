"""``taplab bench monitor``: what an eBPF HTTP-error monitor costs a web service.

The 5G microservice monitoring thesis, reproduced on the taps' small lab
(``taps.testbed``: client, server, collector on one bridge). nginx in the server
pod answers ``/ok`` with 200 and ``/err`` with 500; h2load (HTTP/1.1) in the
client pod cycles through a URI list holding the wanted share of errors (0, 25,
50, 75, 100 %). Three modes on the server's host-side veth:

- ``none``: nothing attached;
- ``qdisc``: an empty clsact qdisc (the cost of the hook alone);
- ``ebpf``: taplab's ``ebpf`` tap with ``--mirror http500``: counters, an LRU
  flow map, and every TCP stream mirrored to the collector once an HTTP 500 is
  seen in it.

Per run: requests per second, request latency percentiles (p50, p99, p99.9,
from h2load's per-request log), the measured share of 500s, and the mirrored
packets and bytes. Then core scaling: 1 .. nproc h2load instances, one pinned
per core, all errors, per mode. Rounds (``--repeats``) go over every point,
each point under every mode in turn; figures are medians over rounds, ratios
are to mode ``none``.

Published (the 5G monitoring thesis, 2019, docs/experiments.md): TCP
throughput 100 / 97.7 / 89.7 % (untraced / qdiscs only / traced); HTTP
throughput 97 % -> 89 % of unmonitored as errors go 0 -> 100 %; median delay
+6 % (no errors) and +13 % (all errors); the overhead grew with cores.
"""

import os
import re
import statistics
import subprocess
import time
from collections import defaultdict
from pathlib import Path

from rich import box
from rich.table import Table

from taplab import ready
from taplab.bench.record import publish, pyplot, save_figure
from taplab.errors import UserError
from taplab.lab import Lab
from taplab.output import fold, progress
from taplab.shell import start
from taplab.taps import session, testbed
from taplab.taps.procstat import CpuMeter
from taplab.taps.target import resolve

NAME = "monitor"
HELP = "measure an eBPF HTTP-error monitor's cost to nginx under h2load (5G monitoring thesis)"
EXAMPLE = "sudo taplab bench monitor --time 5"
MODES = ("none", "qdisc", "ebpf")
ERRORS = (0, 25, 50, 75, 100)
PORT = 8080
CONNECTIONS = 8
QUICK = {"time": 1.0, "errors": (0, 100)}
PUBLISHED = {
    "source": "5G microservice monitoring with eBPF (thesis, 2019); see docs/experiments.md",
    "tcp_throughput_pct": {"none": 100, "qdisc": 97.7, "ebpf": 89.7},
    "http_throughput_pct_of_none": {0: 97, 100: 89},
    "median_delay_increase_pct": {0: 6, 100: 13},
}
FIELDS = [
    "mode",
    "errors_pct",
    "instances",
    "req_s",
    "req_ratio",
    "p50_ms",
    "p99_ms",
    "p999_ms",
    "p50_ratio",
    "measured_errors_pct",
    "mirrored_packets",
    "mirrored_bytes",
    "machine_busy_pct",
    "softirq_pct",
    "tap_cpu_pct",
    "collector_cpu_pct",
]

NGINX = """daemon off;
worker_processes auto;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/nginx-body;
    proxy_temp_path {dir}/nginx-proxy;
    fastcgi_temp_path {dir}/nginx-fastcgi;
    uwsgi_temp_path {dir}/nginx-uwsgi;
    scgi_temp_path {dir}/nginx-scgi;
    keepalive_requests 1000000;
    server {{
        listen {ip}:{port};
        location = /ok {{ return 200 "ok\\n"; }}
        location = /err {{ return 500 "error\\n"; }}
    }}
}}
"""


def add_arguments(p) -> None:
    p.add_argument("--time", type=float, default=5, help="seconds per run (default 5)")
    p.add_argument(
        "--errors",
        default=",".join(map(str, ERRORS)),
        help="error shares in %% (default 0,25,50,75,100)",
    )
    p.add_argument("--modes", default=",".join(MODES), help=f"default {','.join(MODES)}")
    p.add_argument("--repeats", type=int, default=3, help="rounds over every point (default 3)")
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK['time']:.0f} s per run, errors {QUICK['errors']}",
    )


def uris(ip: str, errors_pct: int) -> list[str]:
    """Four URIs (h2load takes them in turn) holding errors_pct % of /err, or one."""
    if errors_pct in (0, 100):
        return [f"http://{ip}:{PORT}/{'err' if errors_pct else 'ok'}"]
    errs = errors_pct * 4 // 100
    return [f"http://{ip}:{PORT}/err"] * errs + [f"http://{ip}:{PORT}/ok"] * (4 - errs)


def percentile_ms(ordered: list[int], q: float) -> float | None:
    """The q-quantile (nearest rank) of ordered µs, in ms."""
    if not ordered:
        return None
    return round(ordered[min(int(q * len(ordered)), len(ordered) - 1)] / 1000, 3)


def load(lab, errors_pct: int, seconds: float, instances: int, folder: Path) -> dict:
    """instances h2load processes (one pinned per core) for seconds; merged figures."""
    ip = testbed.ADDRESSES["server"]
    logs = [folder / f"h2load-{i}.log" for i in range(instances)]
    procs = []
    for i, log in enumerate(logs):
        argv = [
            "taskset",
            "-c",
            str(i % (os.cpu_count() or 1)),
            "h2load",
            "--h1",
            "-t",
            "1",
            "-c",
            str(CONNECTIONS),
            "-D",
            str(int(seconds)),
            f"--log-file={log}",
            *uris(ip, errors_pct),
        ]
        procs.append(
            start(
                argv,
                netns=lab.netns("client"),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    outputs = [p.communicate(timeout=seconds + 60)[0] for p in procs]
    rates = []
    for out, proc in zip(outputs, procs, strict=True):
        found = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out)
        if proc.returncode != 0 or not found:
            raise UserError(f"h2load failed: {out.strip().splitlines()[-1:] or 'no output'}.")
        rates.append(float(found.group(1)))
    times, statuses = [], []
    for log in logs:
        for line in log.read_text().splitlines():
            fields = line.split("\t")
            if len(fields) >= 3:
                statuses.append(int(fields[1]))
                times.append(int(fields[2]))
        log.unlink()
    times.sort()
    return {
        "req_s": round(sum(rates), 1),
        "p50_ms": percentile_ms(times, 0.5),
        "p99_ms": percentile_ms(times, 0.99),
        "p999_ms": percentile_ms(times, 0.999),
        "measured_errors_pct": round(100 * statuses.count(500) / len(statuses), 1)
        if statuses
        else None,
        "requests": len(times),
    }


class Mode:
    """A monitoring mode on the server's host-side veth: on, counters, off."""

    def __init__(self, lab, name: str):
        self.lab, self.name, self.tap = lab, name, None
        self.target = resolve(lab, "server", host_side=True)

    def __enter__(self):
        if self.name == "qdisc":
            self.lab.sh(self.target.node, ["tc", "qdisc", "add", "dev", self.target.intf, "clsact"])
            self.lab.record(
                {
                    "kind": "qdisc",
                    "dev": self.target.intf,
                    "parent": "clsact",
                    "netns": self.target.netns,
                }
            )
        elif self.name == "ebpf":
            self.tap = session.attach(
                self.lab, "server", "ebpf", collector="collector", mirror="http500", interval=0.2
            )
        return self

    @property
    def collector_pids(self) -> list[int]:
        """The collector's process, while the tap sends to it."""
        info = self.lab.meta.get("collectors", {}).get("collector")
        return [info["pid"]] if self.tap and info else []

    def mirrored(self) -> tuple[int, int]:
        """(packets, bytes) the collector has received from the tap so far."""
        if not self.tap:
            return 0, 0
        stats = session.stats(self.lab, self.tap["id"]).get("collector", {})
        return stats.get("packets", 0), stats.get("bytes", 0)

    def __exit__(self, *exc):
        if self.tap:
            session.detach(self.lab, self.tap["id"])
        elif self.name == "qdisc":
            self.lab.sh(
                self.target.node,
                ["tc", "qdisc", "del", "dev", self.target.intf, "clsact"],
                check=False,
            )


def settled_mirror(mode: Mode, timeout: float = 5) -> tuple[int, int]:
    """The collector's counters once they stop moving (copies still in flight counted)."""
    if not mode.tap:
        return 0, 0
    return ready.steady(mode.mirrored, timeout, 0.5)


def measure(modes: list[str], errors: list[int], seconds: float, repeats: int) -> list[dict]:
    """Every (mode, errors, instances), round after round; within a round each point
    under every mode in turn (the machine's load drifts: compared runs stay close)."""
    runs: dict[tuple, list[dict]] = defaultdict(list)
    cores = os.cpu_count() or 1
    points = [(e, 1) for e in errors] + [(100, k) for k in range(2, cores + 1)]
    with Lab("bench-monitor") as lab:
        testbed.build(lab)
        conf = lab.workdir / "nginx.conf"
        conf.write_text(NGINX.format(dir=lab.workdir, ip=testbed.ADDRESSES["server"], port=PORT))
        lab.popen(["nginx", "-c", str(conf)], node="server", log="nginx.log", grace=2.0)
        load(lab, 0, 1, 1, lab.workdir)  # nginx is up and warm before the first figure
        for round_no in range(1, repeats + 1):
            for errors_pct, instances in points:
                for name in modes:
                    status = (
                        f"round {round_no}/{repeats}: {name}, {errors_pct} % errors, "
                        f"{instances} load instance(s) ..."
                    )
                    with progress(status), Mode(lab, name) as mode:
                        before = settled_mirror(mode)
                        meter = CpuMeter(mode.tap["pids"] if mode.tap else [])
                        collector = CpuMeter(mode.collector_pids)
                        figures = load(lab, errors_pct, seconds, instances, lab.workdir)
                        cpu = meter.read()
                        collector_cpu = collector.read()["cpu_pct_core"]
                        after = settled_mirror(mode)
                    runs[name, errors_pct, instances].append(
                        {
                            **figures,
                            "mirrored_packets": after[0] - before[0],
                            "mirrored_bytes": after[1] - before[1],
                            "machine_busy_pct": round(cpu["machine_busy_pct"], 1),
                            "softirq_pct": round(cpu["softirq_pct"], 1),
                            "tap_cpu_pct": round(cpu["cpu_pct_core"], 1),
                            "collector_cpu_pct": round(collector_cpu, 1),
                        }
                    )
    return [
        {
            "mode": name,
            "errors_pct": e,
            "instances": k,
            **medians(runs[name, e, k]),
            "repeats": runs[name, e, k],
        }
        for name in modes
        for e, k in points
    ]


def medians(runs: list[dict]) -> dict:
    """The median of each figure over the rounds."""
    return {
        key: round(statistics.median(r[key] for r in runs), 3)
        for key in runs[0]
        if all(isinstance(r[key], int | float) for r in runs)
    }


def add_ratios(rows: list[dict]) -> None:
    base = {(r["errors_pct"], r["instances"]): r for r in rows if r["mode"] == "none"}
    for r in rows:
        b = base.get((r["errors_pct"], r["instances"]))
        r["req_ratio"] = round(r["req_s"] / b["req_s"], 4) if b and b["req_s"] else None
        r["p50_ratio"] = (
            round(r["p50_ms"] / b["p50_ms"], 4) if b and b["p50_ms"] and r["p50_ms"] else None
        )


def parse(args) -> tuple[list[str], list[int], float]:
    if args.quick:
        return list(MODES), list(QUICK["errors"]), QUICK["time"]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not modes or any(m not in MODES for m in modes):
        raise UserError(f"--modes takes {', '.join(MODES)}, not '{args.modes}'.")
    if "none" not in modes:
        modes.insert(0, "none")  # the ratios need it
    try:
        errors = sorted({int(e) for e in args.errors.split(",") if e.strip()})
    except ValueError:
        raise UserError(f"--errors takes shares in % like 0,50,100, not '{args.errors}'.") from None
    if not errors or any(e not in ERRORS for e in errors):
        raise UserError(f"--errors takes shares among {', '.join(map(str, ERRORS))}.")
    if args.time < 1 or args.repeats < 1:
        raise UserError(
            "--time must be at least 1 s (h2load takes whole seconds) and --repeats at least 1."
        )
    return modes, errors, args.time


def table(rows: list[dict]) -> Table:
    """The rows at 80 columns: latencies in ms, ratios in % of no monitor at the same
    point, the machine's CPU (busy, and in softirq: packet processing) in % of all cores;
    p99.9, the measured share of 500s, mirrored packets and the tap's own CPU are in the
    JSON and CSV."""
    t = Table(
        "mode",
        "err%",
        "inst",
        "req/s",
        "%none",
        "p50",
        "p99",
        "p50 %none",
        "mirror MB",
        "cpu%",
        "sirq%",
        title="h2load against nginx: latency in ms, %none of the same point unmonitored",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )

    def pct(x):
        return "-" if x is None else f"{100 * x:.1f}"

    def ms(x):
        return "-" if x is None else f"{x:.3f}"

    for r in rows:
        t.add_row(
            r["mode"],
            str(r["errors_pct"]),
            str(r["instances"]),
            f"{r['req_s']:.0f}",
            pct(r["req_ratio"]),
            ms(r["p50_ms"]),
            ms(r["p99_ms"]),
            pct(r["p50_ratio"]),
            f"{r['mirrored_bytes'] / 1e6:.2f}",
            f"{r['machine_busy_pct']:.0f}",
            f"{r['softirq_pct']:.0f}",
        )
    return fold(t)


def plot(rows: list[dict], folder) -> list[str]:
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    modes = list(dict.fromkeys(r["mode"] for r in rows))
    for i, mode in enumerate(modes):
        mix = sorted(
            (r["errors_pct"], r) for r in rows if r["mode"] == mode and r["instances"] == 1
        )
        for ax, key in ((axes[0], "req_ratio"), (axes[1], "p50_ratio")):
            ax.plot(
                [e for e, _ in mix], [r[key] for _, r in mix], marker="o", color=f"C{i}", label=mode
            )
        scale = sorted(
            (r["instances"], r["req_s"])
            for r in rows
            if r["mode"] == mode and r["errors_pct"] == 100
        )
        axes[2].plot(*zip(*scale, strict=True), marker="o", color=f"C{i}", label=mode)
    pub = PUBLISHED["http_throughput_pct_of_none"]
    axes[0].plot(list(pub), [v / 100 for v in pub.values()], "k--x", label="eBPF, published")
    delay = PUBLISHED["median_delay_increase_pct"]
    axes[1].plot(
        list(delay), [1 + v / 100 for v in delay.values()], "k--x", label="eBPF, published"
    )
    for ax, title in zip(
        axes,
        (
            "requests/s vs none",
            "median latency vs none",
            "requests/s, all errors, by load instances (cores)",
        ),
        strict=True,
    ):
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_xlabel("HTTP 500 share (%)")
    axes[1].set_xlabel("HTTP 500 share (%)")
    axes[2].set_xlabel("h2load instances, one per core")
    return save_figure(fig, folder, "monitor")


def run(args) -> int:
    modes, errors, seconds = parse(args)
    started = time.time()
    rows = measure(modes, errors, seconds, 1 if args.quick else args.repeats)
    add_ratios(rows)
    data = {
        "rows": rows,
        "published": PUBLISHED,
        "settings": {
            "repeats": 1 if args.quick else args.repeats,
            "modes": modes,
            "errors_pct": errors,
            "seconds": seconds,
            "connections_per_instance": CONNECTIONS,
            "quick": args.quick,
            "cores": os.cpu_count(),
        },
        "elapsed_s": round(time.time() - started, 1),
    }
    return publish(
        "monitor",
        args,
        data,
        FIELDS,
        plot,
        table(rows),
        "published (5G monitoring thesis, 2019; docs/experiments.md): TCP 100 / 97.7 "
        "/ 89.7 % (none / qdisc / traced); HTTP 97 % -> 89 % of unmonitored as "
        "errors go 0 -> 100 %; median delay +6 % / +13 %",
    )
