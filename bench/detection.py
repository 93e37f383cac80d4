"""``taplab bench detection``: every detector against real attacks and benign traffic.

A one-node cluster: pod1 the attacker, pod2 the target (HTTP server, 10 %
500s), pod3 and pod4 benign clients, pod5..pod7 slow scanners, pod8 the decoy
scanner, pod9..pod28 the distributed flooders, pod29..pod36 the benign
look-alikes (UDP servers, mesh members). A sensor on node1 captures every
pod's packets, the in-kernel eBPF counter runs next to it
(``cusum-ebpf``, ``stealth-ebpf``). Scenarios run one after the other (the slow scans together,
from different pods); every detector, fresh for each scenario, reads that
scenario's capture and is scored against its ground truth: detected, delay
in seconds and in probes (and closed-port probes) after the attack started,
the real source named, true and false positives, misses. A summary per
attack family follows. The Zeek- and Snort-like columns are the baselines.

The default run covers every nmap technique and evasion at T4, every flood
kind, distributed floods, and the benign look-alikes for 10 s each; ``--full``
adds T0 among the slow scans and runs the look-alikes for 60 s. The idle scan
(-sI) bounces off pod36, made a zombie for it (``traffic.zombie``).

Targets: a scanner flagged within 5 probes to closed ports; a flood of >= 1000
SYN/s flagged within 1 s; no alert in any benign scenario. The table shows
where each detector misses (slow scans, low-rate floods).
"""

import statistics
import threading
import time
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

from taplab import capabilities
from taplab.bench import detection_timeline
from taplab.detectors import catalog
from taplab.detectors.cusum import CusumSynFlood
from taplab.detectors.live import (
    KERNEL_DETECTORS,
    kernel_detections,
    start_sensor,
    start_syn_counter,
)
from taplab.detectors.scoring import matches, score
from taplab.detectors.stealth_counts import KernelStealthScan
from taplab.lab import Lab
from taplab.output import console, fold, print_json, progress
from taplab.report import report_dir, write_json
from taplab.topologies import registry
from taplab.traffic import benign, flood, lookalike, scan
from taplab.traffic.scan import Evasion

NAME = "detection"
HELP = "score every detector against real scans, floods and benign traffic"
EXAMPLE = "sudo taplab bench detection --quick"
TRW_TIMEOUT_S = 3.0  # how long after a scenario time still runs (silent probes time out)
PODS = 36
SWARM = [f"pod{i}" for i in range(9, 29)]
DEAD = "10.244.1.200/29"  # addresses of no pod


@dataclass
class Scenario:
    name: str
    steps: list  # callables lab -> GroundTruth, run together in threads
    family: str = "benign"
    truths: list = field(default_factory=list)
    start: float = 0.0
    end: float = 0.0


def nmap(kind, timing="T4", ports=None, attacker="pod1", target="pod2", **kw):
    return lambda lab: scan.nmap_scan(lab, attacker, target, kind, timing, ports, **kw)


def stealth_and_evasion() -> list[Scenario]:
    """Every other nmap technique and evasion, at T4."""
    stealth = [
        Scenario(f"scan-{k}-T4", [nmap(k, ports="1000-1100")], "stealth")
        for k in ("sA", "sW", "sM", "sN", "sF", "sX")
    ]
    stealth += [
        Scenario("scan-sO-T4", [nmap("sO", ports="1-30")], "stealth"),
        Scenario("scan-sY-T4", [nmap("sY", ports="1000-1020")], "stealth"),
    ]
    evasions = {
        "decoys": nmap(
            "sS", ports="1000-1100", attacker="pod8", evasion=Evasion(decoys=["pod3", "RND:3"])
        ),
        "fragments": nmap("sS", ports="1000-1100", evasion=Evasion(fragment=True)),
        "mtu16": nmap("sX", ports="1000-1100", evasion=Evasion(mtu=16)),
        "sport53": nmap("sS", ports="1000-1100", evasion=Evasion(source_port=53)),
        "data-length": nmap("sN", ports="1000-1100", evasion=Evasion(data_length=40)),
        "sweep-22": nmap("sS", ports="22", target="10.244.1.0/27"),
        "randomize-hosts": nmap(
            "sS", ports="22", target="10.244.1.0/27", evasion=Evasion(randomize_hosts=True)
        ),
        "ping-PS-PE": nmap("sn", target=DEAD, ping=["PS80", "PE"]),
        "ping-PA-PU-PP": nmap("sn", target=DEAD, ping=["PA80", "PU53", "PP"]),
        "T5-max-rate": nmap("sF", "T5", "1000-1100", evasion=Evasion(max_rate=100)),
        "T2-scan-delay": nmap("sS", "T2", "1000-1010", evasion=Evasion(scan_delay="200ms")),
    }
    return stealth + [Scenario(f"evasion-{n}", [fn], "evasion") for n, fn in evasions.items()]


def floods() -> list[Scenario]:
    out = [
        Scenario(
            f"flood-{k}-1000",
            [lambda lab, k=k: flood.flood(lab, "pod1", "pod2", k, 80, 1000, 2)],
            "flood",
        )
        for k in ("ack", "rst", "udp", "icmp")
    ]
    return out + [
        Scenario(
            f"distributed-{k}-20x100",
            [lambda lab, k=k: flood.distributed_flood(lab, SWARM, "pod2", k, 80, 100, 3)],
            "distributed",
        )
        for k in ("syn", "udp")
    ]


def lookalikes(seconds: float) -> list[Scenario]:
    gens = {
        "ab": lambda lab: lookalike.ab_load(lab, "pod3", "pod2", seconds=seconds),
        "scraper": lambda lab: lookalike.scraper(
            lab, "pod4", ["pod2", "pod3", "pod29", "10.244.1.200"], seconds=seconds
        ),
        "retry": lambda lab: lookalike.retry_client(lab, "pod3", "pod2", 8443, seconds=seconds),
        "dns": lambda lab: lookalike.dns_client(
            lab, "pod4", ["pod30", "pod31", "pod32"], rate=200, seconds=seconds
        ),
        "backup": lambda lab: lookalike.backup_flow(lab, "pod3", "pod2", seconds=seconds),
        "mesh": lambda lab: lookalike.mesh_checker(
            lab, ["pod33", "pod34", "pod35", "pod36"], seconds=seconds
        ),
    }
    return [Scenario(f"benign-{n}", [fn]) for n, fn in gens.items()]


def scenarios(quick: bool, slow: str, slow_ports: str, full: bool = False) -> list[Scenario]:
    """The scenarios in run order (quick: a short subset for tests)."""

    def iperf(lab):
        return benign.iperf_flow(lab, "pod3", "pod2", seconds=3, rate="20M")

    def http(lab):
        return benign.http_load(lab, "pod3", "pod2", rate=200, concurrency=20, seconds=3)

    def busy(lab):
        return benign.busy_client(lab, "pod4", "pod2", rate=100, seconds=3)

    def syn(rate, seconds=2, **kw):
        return lambda lab: flood.syn_flood(lab, "pod1", "pod2", 80, rate, seconds, **kw)

    if quick:
        return [
            Scenario("benign-busy", [busy]),
            Scenario("flood-1000", [syn(1000)], "flood"),
            Scenario("scan-sS-T4", [nmap("sS", "T4", "1-100")], "scan"),
            Scenario(f"scan-sS-{slow}", [nmap("sS", slow, slow_ports)], "scan"),
        ]
    fast_ports = {"sS": "1-1000", "sT": "1-1000", "sU": "1-20", "sn": None}
    slow_attackers = {"sS": "pod1", "sT": "pod5", "sU": "pod6", "sn": "pod7"}
    slow_scans = [
        Scenario(
            f"scan-{k}-{slow}",
            [
                nmap(
                    k,
                    slow,
                    slow_ports if k != "sn" else None,
                    slow_attackers[k],
                    DEAD if k == "sn" else "pod2",
                )
            ],
            "scan",
        )
        for k in fast_ports
    ]
    if full and slow != "T0":
        slow_scans.append(Scenario("scan-sS-T0", [nmap("sS", "T0", "1000-1004", "pod29")], "scan"))
    return [
        Scenario("benign-iperf3", [iperf]),
        Scenario("benign-http", [http]),
        Scenario("benign-busy", [busy]),
        Scenario("benign-mixed", [iperf, http, busy]),
        *lookalikes(60 if full else 10),
        Scenario("flood-100", [syn(100, 3)], "flood"),
        Scenario("flood-1000", [syn(1000)], "flood"),
        Scenario("flood-5000", [syn(5000)], "flood"),
        Scenario("flood-1000-spoofed", [syn(1000, rand_source=True)], "flood"),
        *floods(),
        *[
            Scenario(
                f"scan-{k}-T4", [nmap(k, "T4", p, target=DEAD if k == "sn" else "pod2")], "scan"
            )
            for k, p in fast_ports.items()
        ],
        *stealth_and_evasion(),
        Scenario("mixed", [http, busy, syn(1000), nmap("sS", "T4", "1-1000", "pod5")], "mixed"),
        *slow_scans,
    ]


def add_arguments(parser) -> None:
    parser.add_argument(
        "--quick",
        action="store_true",
        help="four short scenarios (busy client, 1000 SYN/s, fast and slow sS)",
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help="also a T0 scan, and the benign look-alikes for 60 s each",
    )
    parser.add_argument(
        "--slow",
        default="T1",
        choices=scan.TIMINGS,
        help="nmap timing of the slow scans (default T1: 15 s between probes)",
    )
    parser.add_argument(
        "--slow-ports",
        default="1000-1005",
        help="ports of the slow scans (default 1000-1005: six closed ports)",
    )


def run_steps(lab, scenario: Scenario) -> None:
    """Run a scenario's steps together; its ground truth and time span."""
    errors: list[BaseException] = []

    def step(fn):
        try:
            scenario.truths.append(fn(lab).as_dict())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            errors.append(exc)

    scenario.start = time.time()
    threads = [threading.Thread(target=step, args=(fn,)) for fn in scenario.steps]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    scenario.end = time.time()


def run_slow_together(lab, slow: list[Scenario]) -> None:
    threads = [threading.Thread(target=run_steps, args=(lab, s)) for s in slow]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def evaluate(
    scenario: Scenario,
    next_start: float,
    observations: list,
    kernel_rows: list,
    others: list[dict],
    names: list[str],
) -> tuple[list[dict], dict]:
    """Score fresh detectors on the scenario's capture (up to the next scenario's start;
    time then runs on to let silent probes time out); detections of concurrent
    scenarios' attacks (others) are left out."""
    until = scenario.end + TRW_TIMEOUT_S + 0.5
    captured = min(until, next_start)
    obs = [o for o in observations if scenario.start <= o.time < captured]
    detections = {d.name: catalog.run([d], obs, until=until) for d in catalog.create()}
    if kernel_rows is not None:
        cusum, stealth = CusumSynFlood(), KernelStealthScan()
        kernel = [
            d
            for r in kernel_rows
            if scenario.start <= r[0] < captured
            for d in kernel_detections(r, cusum, stealth)
        ]
        for name in KERNEL_DETECTORS:
            detections[name] = [d for d in kernel if d.detector == name]
    results = []
    for name in names:
        dets = [
            d for d in detections[name] if not any(matches(d, o, TRW_TIMEOUT_S) for o in others)
        ]
        detections[name] = dets
        results.append(
            {
                "detector": name,
                "scenario": scenario.name,
                **score(dets, scenario.truths, obs, grace=TRW_TIMEOUT_S),
            }
        )
    return results, detections


def cell(r: dict) -> str:
    fp = f" [red]+{r['false_positives']} FP[/]" if r["false_positives"] else ""
    if r["detected"] is None:  # a benign scenario
        return f"[red]{r['false_positives']} FP[/]" if r["false_positives"] else "[green]quiet[/]"
    if not r["detected"]:
        return "[yellow]miss[/]" + fp
    closed = f" ({r['closed_probes']}c)" if r["closed_probes"] else ""
    return f"{r['delay_s']:.2f}s {r['probes']}p{closed}{fp}"


def table(results: list[dict], names: list[str], order: list[str]) -> Table:
    t = Table(
        title="detection: delay (s), probes p (closed-port probes c) after the attack "
        "started; miss; FP = false positives"
    )
    t.add_column("scenario")
    for name in names:
        t.add_column(name)
    by = {(r["scenario"], r["detector"]): r for r in results}
    for scen in order:
        t.add_row(scen, *[cell(by[(scen, n)]) for n in names])
    return fold(t)


def families(results: list[dict], plan: list[Scenario], names: list[str]) -> list[dict]:
    """Per attack family and detector: scenarios detected, median delay, real source
    named, false positives (for the benign family, false positives only)."""
    family_of = {s.name: s.family for s in plan}
    rows = []
    for family in dict.fromkeys(s.family for s in plan):
        for name in names:
            rs = [
                r for r in results if r["detector"] == name and family_of[r["scenario"]] == family
            ]
            delays = [r["delay_s"] for r in rs if r["detected"]]
            rows.append(
                {
                    "family": family,
                    "detector": name,
                    "scenarios": len(rs),
                    "detected": sum(1 for r in rs if r["detected"]),
                    "median_delay_s": statistics.median(delays) if delays else None,
                    "source_named": sum(1 for r in rs if r.get("source_named")),
                    "false_positives": sum(r["false_positives"] for r in rs),
                    "missed": [r["scenario"] for r in rs if r["detected"] is False],
                }
            )
    return rows


def family_table(rows: list[dict], names: list[str]) -> Table:
    t = Table(title="per family: detected/scenarios, median delay, real source named, FP")
    t.add_column("family")
    for name in names:
        t.add_column(name)
    for family in dict.fromkeys(r["family"] for r in rows):
        cells = []
        for name in names:
            r = next(x for x in rows if x["family"] == family and x["detector"] == name)
            fp = f" [red]{r['false_positives']} FP[/]" if r["false_positives"] else ""
            if family == "benign":
                cells.append(fp.strip() or "[green]quiet[/]")
                continue
            delay = "" if r["median_delay_s"] is None else f" {r['median_delay_s']:.2f}s"
            cells.append(f"{r['detected']}/{r['scenarios']}{delay} named {r['source_named']}{fp}")
        t.add_row(family, *cells)
    return fold(t)


def unseen(rows: list[dict]) -> list[str]:
    """Attack scenarios that every detector missed."""
    missed_by: dict[str, set] = {}
    for r in rows:
        for scen in r["missed"]:
            missed_by.setdefault(scen, set()).add(r["detector"])
    detectors = {r["detector"] for r in rows}
    return sorted(scen for scen, who in missed_by.items() if who == detectors)


def targets(results: list[dict]) -> dict:
    """The issue's targets, checked on these results."""

    def get(scenario, detector):
        return next(
            (r for r in results if r["scenario"] == scenario and r["detector"] == detector), None
        )

    trw = get("scan-sS-T4", "trw")
    cusum = get("flood-1000", "cusum")
    benign_fp = {
        r["detector"]: r["false_positives"]
        for r in results
        if r["scenario"].startswith("benign") and r["false_positives"]
    }
    return {
        "scanner_closed_probes_trw": trw and trw["closed_probes"],
        "scanner_within_5_closed_probes": bool(
            trw and trw["detected"] and trw["closed_probes"] <= 5
        ),
        "flood_1000_delay_s_cusum": cusum and cusum["delay_s"],
        "flood_1000_within_1s": bool(cusum and cusum["detected"] and cusum["delay_s"] <= 1.0),
        "benign_false_positives": benign_fp,
        "benign_quiet": not benign_fp,
    }


def run(args) -> int:
    plan = scenarios(args.quick, args.slow, args.slow_ports, args.full)
    slow_names = (f"-{args.slow}", "-T0")
    fast = [s for s in plan if not s.name.endswith(slow_names)]
    slow = [s for s in plan if s.name.endswith(slow_names)]
    ebpf = capabilities.available("tc_bpf")
    names = list(catalog.DETECTORS) + (KERNEL_DETECTORS if ebpf else [])
    folder = report_dir("detection", args.out)
    with Lab("bench-detection") as lab:
        pods = 7 if args.quick else PODS
        with progress(f"building a one-node cluster ({pods} pods) ..."):
            registry.build(lab, "cluster", nodes=1, pods=pods)
            benign.http_server(lab, "pod2", port=80, error_ratio=0.1)
            counter = start_syn_counter(lab, "node1") if ebpf else None
            sensor = start_sensor(lab, "node1")
        for scenario in fast:
            with progress(f"scenario {scenario.name} ..."):
                run_steps(lab, scenario)
                time.sleep(1.0)  # trailing answers, and a gap before the next scenario
        if slow:
            with progress(f"{len(slow)} slow scans ({args.slow}) together ..."):
                run_slow_together(lab, slow)
        time.sleep(1.0)
        observations = sensor.observations()
        kernel_rows = counter.rows() if counter else None
    results, plots, alerts = [], [], {}
    # Fast scenarios are captured until the next one starts; the slow ones run together to the end.
    next_starts = [s.start for s in fast[1:]] + [min((s.start for s in slow), default=float("inf"))]
    for scenario in plan:
        concurrent = slow if scenario in slow else []
        others = [t for s in concurrent if s is not scenario for t in s.truths]
        next_start = float("inf") if scenario in slow else next_starts[fast.index(scenario)]
        rows, detections = evaluate(scenario, next_start, observations, kernel_rows, others, names)
        results += rows
        alerts[scenario.name] = [d.as_dict() for dets in detections.values() for d in dets]
        plots.append(
            detection_timeline.plot(
                folder / f"timeline-{scenario.name}.png",
                scenario.name,
                scenario.start,
                scenario.truths,
                detections,
                names,
            )
        )
    checks = targets(results)
    summary = families(results, plan, names)
    uncaught = unseen(summary)
    data = {
        "results": results,
        "targets": checks,
        "families": summary,
        "caught_by_no_detector": uncaught,
        "scenarios": [
            {
                "name": s.name,
                "start": s.start,
                "end": s.end,
                "ground_truth": s.truths,
                "detections": alerts[s.name],
            }
            for s in plan
        ],
        "packets_observed": len(observations),
    }
    path = write_json(folder, "detection", data)
    if args.json:
        print_json(data)
        return 0
    # The table is wide: when the output is not a terminal (a log, a pipe), do not wrap it at 80.
    out = console if console.is_terminal else Console(width=160)
    out.print(table(results, names, [s.name for s in plan]))
    out.print(family_table(summary, names))
    out.print(f"caught by no detector: {', '.join(uncaught) or 'none'}", highlight=False)
    out.print(
        f"targets: scanner within 5 closed-port probes (TRW, scan-sS-T4): "
        f"{checks['scanner_within_5_closed_probes']} "
        f"({checks['scanner_closed_probes_trw']}); flood of 1000 SYN/s within 1 s "
        f"(CUSUM): {checks['flood_1000_within_1s']} ({checks['flood_1000_delay_s_cusum']}"
        f" s); benign scenarios quiet: {checks['benign_quiet']} "
        f"{checks['benign_false_positives'] or ''}",
        highlight=False,
    )
    out.print(f"report: {path} and {len(plots)} timelines in {folder}", highlight=False)
    return 0
