"""Scans with ground truth: nmap (-sS, -sT, -sU, -sn, timing T0..T5) or the scapy SYN scanner.

    nmap_scan(lab, "pod1", "pod2", kind="sS", timing="T4", ports="1-1000")
    nmap_scan(lab, "pod1", "10.244.1.0/28", kind="sn")          # ping sweep
    nmap_scan(lab, "pod1", "pod2", kind="sS", timing="T1", ports="1-5")   # slow
    scapy_scan(lab, "pod1", "pod2", ports="1-100", rate=50)

Slow templates wait long between probes (T1: 15 s, T0: 5 min), so give them
few ports; the run is bounded by ``limit`` seconds.
"""

import json

from taplab.traffic import groundtruth
from taplab.traffic.groundtruth import GroundTruth
from taplab.traffic.ports import parse_ports
from taplab.traffic.running import (
    command,
    log_name,
    log_text,
    python_module,
    require_positive,
    run_bounded,
)

from taplab import capabilities
from taplab.errors import UserError
from taplab.measure import node_ip

KINDS = ("sS", "sT", "sU", "sn")
TIMINGS = ("T0", "T1", "T2", "T3", "T4", "T5")


def nmap_argv(kind: str, timing: str, targets: str, ports: str | None) -> list[str]:
    if kind not in KINDS:
        raise UserError(f"unknown scan kind '{kind}': choose from {', '.join(KINDS)}.")
    if timing not in TIMINGS:
        raise UserError(f"unknown timing '{timing}': choose from {', '.join(TIMINGS)}.")
    argv = ["nmap", f"-{kind}", f"-{timing}", "-n"]
    if kind != "sn":
        argv += ["-p", ports or "1-1000"]
    return [*argv, targets]


def nmap_scan(lab, attacker: str, target: str, kind: str = "sS", timing: str = "T4",
              ports: str | None = None, limit: float = 600, out=None) -> GroundTruth:
    """Run nmap from attacker against target (node, address or CIDR); blocks until done."""
    capabilities.require("nmap")
    require_positive(limit=limit)
    targets = groundtruth.resolve(lab, target)
    spec = target if target not in lab.meta.get("nodes", {}) else targets[0]
    argv = nmap_argv(kind, timing, spec, ports)
    port_list = [] if kind == "sn" else parse_ports(ports or "1-1000")
    log = log_name(f"nmap-{kind}")
    start, end = run_bounded(lab, attacker, argv, limit, log)
    summary = log_text(lab, log).strip().splitlines()
    truth = GroundTruth("scan", True, attacker, [node_ip(lab, attacker)], targets, port_list,
                        "nmap", command(argv), len(port_list or targets) / max(end - start, 1e-3),
                        "probes/s (mean)", start, end,
                        details={"scan": kind, "timing": timing,
                                 "summary": summary[-1] if summary else ""})
    groundtruth.write(lab, truth, out)
    return truth


def scapy_scan(lab, attacker: str, target: str, ports: str = "1-1000", rate: float = 100,
               limit: float = 600, out=None) -> GroundTruth:
    """The scapy SYN scanner from attacker against one target; blocks until done."""
    require_positive(rate=rate, limit=limit)
    targets = groundtruth.resolve(lab, target)
    port_list = parse_ports(ports)
    argv = python_module("taplab.traffic.synscan", "--target", targets[0], "--ports", ports,
                         "--rate", str(rate))
    log = log_name("synscan")
    start, end = run_bounded(lab, attacker, argv, limit, log)
    result = next((json.loads(ln) for ln in log_text(lab, log).splitlines()
                   if ln.startswith("{")), {})
    truth = GroundTruth("scan", True, attacker, [node_ip(lab, attacker)], targets[:1],
                        port_list, "scapy", command(argv), rate, "probes/s", start, end,
                        details={"scan": "sS", "result": result})
    groundtruth.write(lab, truth, out)
    return truth
