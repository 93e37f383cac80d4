"""``taplab bench detection``: every detector against real attacks and benign traffic.

A one-node cluster (pod1 attacker, pod2 target running the HTTP server with
10 % 500s, pod3 and pod4 benign clients, pod5..pod7 extra slow scanners); a
sensor on node1 captures every pod's packets, and the in-kernel eBPF SYN
counter runs next to it (``cusum-ebpf``). Scenarios run one after the other
(the slow scans together, from different pods); every detector, fresh for each
scenario, reads that scenario's capture and is scored against its ground
truth: detected, delay in seconds and in probes (and closed-port probes) after
the attack started, true and false positives, misses.

Targets: a scanner flagged within 5 probes to closed ports; a flood of >= 1000
SYN/s flagged within 1 s; no alert in any benign scenario. The table shows
where each detector misses (slow scans, low-rate floods).
"""

import threading
import time
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

from taplab import capabilities
from taplab.bench import detection_timeline
from taplab.detectors import catalog
from taplab.detectors.cusum import CusumSynFlood
from taplab.detectors.ebpf_syn import counts_into
from taplab.detectors.live import start_sensor, start_syn_counter
from taplab.detectors.scoring import matches, score
from taplab.lab import Lab
from taplab.output import console, print_json
from taplab.report import report_dir, write_json
from taplab.topologies import registry
from taplab.traffic import benign, flood, scan

NAME = "detection"
HELP = "score every detector against real scans, SYN floods and benign traffic"
EXAMPLE = "sudo taplab bench detection --quick"
TRW_TIMEOUT_S = 3.0  # how long after a scenario time still runs (silent probes time out)


@dataclass
class Scenario:
    name: str
    steps: list  # callables lab -> GroundTruth, run together in threads
    truths: list = field(default_factory=list)
    start: float = 0.0
    end: float = 0.0


def scenarios(quick: bool, slow: str, slow_ports: str) -> list[Scenario]:
    """The scenarios in run order (quick: a short subset for tests)."""
    def iperf(lab):
        return benign.iperf_flow(lab, "pod3", "pod2", seconds=3, rate="20M")

    def http(lab):
        return benign.http_load(lab, "pod3", "pod2", rate=200, concurrency=20, seconds=3)

    def busy(lab):
        return benign.busy_client(lab, "pod4", "pod2", rate=100, seconds=3)

    def syn(rate, seconds=2, **kw):
        return lambda lab: flood.syn_flood(lab, "pod1", "pod2", 80, rate, seconds, **kw)

    def nmap(kind, timing, ports=None, attacker="pod1"):
        target = "10.244.1.0/28" if kind == "sn" else "pod2"
        return lambda lab: scan.nmap_scan(lab, attacker, target, kind, timing, ports)

    if quick:
        return [Scenario("benign-busy", [busy]), Scenario("flood-1000", [syn(1000)]),
                Scenario("scan-sS-T4", [nmap("sS", "T4", "1-100")]),
                Scenario(f"scan-sS-{slow}", [nmap("sS", slow, slow_ports)])]
    fast_ports = {"sS": "1-1000", "sT": "1-1000", "sU": "1-20", "sn": None}
    slow_attackers = {"sS": "pod1", "sT": "pod5", "sU": "pod6", "sn": "pod7"}
    return [
        Scenario("benign-iperf3", [iperf]), Scenario("benign-http", [http]),
        Scenario("benign-busy", [busy]), Scenario("benign-mixed", [iperf, http, busy]),
        Scenario("flood-100", [syn(100, 3)]), Scenario("flood-1000", [syn(1000)]),
        Scenario("flood-5000", [syn(5000)]),
        Scenario("flood-1000-spoofed", [syn(1000, rand_source=True)]),
        *[Scenario(f"scan-{k}-T4", [nmap(k, "T4", p)]) for k, p in fast_ports.items()],
        Scenario("mixed", [http, busy, syn(1000), nmap("sS", "T4", "1-1000", "pod5")]),
        *[Scenario(f"scan-{k}-{slow}", [nmap(k, slow, slow_ports if k != "sn" else None,
                                             slow_attackers[k])])
          for k in fast_ports],
    ]


def add_arguments(parser) -> None:
    parser.add_argument("--quick", action="store_true",
                        help="four short scenarios (busy client, 1000 SYN/s, fast and slow sS)")
    parser.add_argument("--slow", default="T1", choices=scan.TIMINGS,
                        help="nmap timing of the slow scans (default T1: 15 s between probes)")
    parser.add_argument("--slow-ports", default="1000-1005",
                        help="ports of the slow scans (default 1000-1005: six closed ports)")


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


def evaluate(scenario: Scenario, next_start: float, observations: list, kernel_rows: list,
             others: list[dict], names: list[str]) -> tuple[list[dict], dict]:
    """Score fresh detectors on the scenario's capture (up to the next scenario's start;
    time then runs on to let silent probes time out); detections of concurrent
    scenarios' attacks (others) are left out."""
    until = scenario.end + TRW_TIMEOUT_S + 0.5
    captured = min(until, next_start)
    obs = [o for o in observations if scenario.start <= o.time < captured]
    detections = {d.name: catalog.run([d], obs, until=until) for d in catalog.create()}
    if kernel_rows is not None:
        cusum = CusumSynFlood()
        detections["cusum-ebpf"] = [catalog.Detection(r[0], "cusum-ebpf", a) for r in kernel_rows
                                    if scenario.start <= r[0] < captured
                                    for a in counts_into(cusum, r)]
    results = []
    for name in names:
        dets = [d for d in detections[name]
                if not any(matches(d, o, TRW_TIMEOUT_S) for o in others)]
        detections[name] = dets
        results.append({"detector": name, "scenario": scenario.name,
                        **score(dets, scenario.truths, obs, grace=TRW_TIMEOUT_S)})
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
    t = Table(title="detection: delay (s), probes p (closed-port probes c) after the attack "
                    "started; miss; FP = false positives")
    t.add_column("scenario")
    for name in names:
        t.add_column(name)
    by = {(r["scenario"], r["detector"]): r for r in results}
    for scen in order:
        t.add_row(scen, *[cell(by[(scen, n)]) for n in names])
    return t


def targets(results: list[dict]) -> dict:
    """The issue's targets, checked on these results."""
    def get(scenario, detector):
        return next((r for r in results if r["scenario"] == scenario
                     and r["detector"] == detector), None)
    trw = get("scan-sS-T4", "trw")
    cusum = get("flood-1000", "cusum")
    benign_fp = {r["detector"]: r["false_positives"] for r in results
                 if r["scenario"].startswith("benign") and r["false_positives"]}
    return {"scanner_closed_probes_trw": trw and trw["closed_probes"],
            "scanner_within_5_closed_probes": bool(trw and trw["detected"]
                                                   and trw["closed_probes"] <= 5),
            "flood_1000_delay_s_cusum": cusum and cusum["delay_s"],
            "flood_1000_within_1s": bool(cusum and cusum["detected"]
                                         and cusum["delay_s"] <= 1.0),
            "benign_false_positives": benign_fp, "benign_quiet": not benign_fp}


def run(args) -> int:
    plan = scenarios(args.quick, args.slow, args.slow_ports)
    fast = [s for s in plan if not s.name.endswith(f"-{args.slow}")]
    slow = [s for s in plan if s.name.endswith(f"-{args.slow}")]
    ebpf = capabilities.available("tc_bpf")
    names = list(catalog.DETECTORS) + (["cusum-ebpf"] if ebpf else [])
    folder = report_dir("detection", args.out)
    with Lab("bench-detection") as lab:
        with console.status("building a one-node cluster (7 pods) ..."):
            registry.build(lab, "cluster", nodes=1, pods=7)
            benign.http_server(lab, "pod2", port=80, error_ratio=0.1)
            counter = start_syn_counter(lab, "node1") if ebpf else None
            sensor = start_sensor(lab, "node1")
        for scenario in fast:
            with console.status(f"scenario {scenario.name} ..."):
                run_steps(lab, scenario)
                time.sleep(1.0)  # trailing answers, and a gap before the next scenario
        if slow:
            with console.status(f"{len(slow)} slow scans ({args.slow}) together ..."):
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
        rows, detections = evaluate(scenario, next_start, observations, kernel_rows, others,
                                    names)
        results += rows
        alerts[scenario.name] = [d.as_dict() for dets in detections.values() for d in dets]
        plots.append(detection_timeline.plot(folder / f"timeline-{scenario.name}.png",
                                             scenario.name, scenario.start, scenario.truths,
                                             detections, names))
    checks = targets(results)
    data = {"results": results, "targets": checks,
            "scenarios": [{"name": s.name, "start": s.start, "end": s.end,
                           "ground_truth": s.truths, "detections": alerts[s.name]}
                          for s in plan],
            "packets_observed": len(observations)}
    path = write_json(folder, "detection", data)
    if args.json:
        print_json(data)
        return 0
    # The table is wide: when the output is not a terminal (a log, a pipe), do not wrap it at 80.
    out = console if console.is_terminal else Console(width=160)
    out.print(table(results, names, [s.name for s in plan]))
    out.print(f"targets: scanner within 5 closed-port probes (TRW, scan-sS-T4): "
              f"{checks['scanner_within_5_closed_probes']} "
              f"({checks['scanner_closed_probes_trw']}); flood of 1000 SYN/s within 1 s "
              f"(CUSUM): {checks['flood_1000_within_1s']} ({checks['flood_1000_delay_s_cusum']}"
              f" s); benign scenarios quiet: {checks['benign_quiet']} "
              f"{checks['benign_false_positives'] or ''}", highlight=False)
    out.print(f"report: {path} and {len(plots)} timelines in {folder}", highlight=False)
    return 0
