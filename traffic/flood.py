"""SYN floods with ground truth: hping3, or scapy where hping3 is missing.

    syn_flood(lab, "pod1", "pod2", port=80, rate=1000, seconds=3)
    syn_flood(lab, "pod1", "pod2", rand_source=True)     # random forged sources

hping3 sends ``-c rate*seconds`` SYNs every ``-i u<1e6/rate>`` microseconds;
the ground truth records the requested rate and the rate it reached.
"""

import re

from taplab import capabilities
from taplab.errors import UserError
from taplab.measure import node_ip
from taplab.traffic import groundtruth
from taplab.traffic.groundtruth import GroundTruth
from taplab.traffic.running import (
    command,
    log_name,
    log_text,
    python_module,
    require_positive,
    run_bounded,
)

TOOLS = ("auto", "hping3", "scapy")


def flood_argv(tool: str, target: str, port: int, rate: float, seconds: float,
               spoof: str | None, rand_source: bool) -> list[str]:
    if tool == "hping3":
        argv = ["hping3", "-S", "-q", "-p", str(port), "-i", f"u{max(1, int(1e6 / rate))}",
                "-c", str(max(1, int(rate * seconds)))]
        argv += ["--rand-source"] if rand_source else (["-a", spoof] if spoof else [])
        return [*argv, target]
    argv = python_module("taplab.traffic.scapyflood", "--target", target, "--port", str(port),
                         "--rate", str(rate), "--seconds", str(seconds))
    return argv + (["--rand-source"] if rand_source else (["--spoof", spoof] if spoof else []))


def choose_tool(tool: str) -> str:
    if tool not in TOOLS:
        raise UserError(f"unknown flood tool '{tool}': choose from {', '.join(TOOLS)}.")
    if tool == "auto":
        return "hping3" if capabilities.available("hping3") else "scapy"
    if tool == "hping3":
        capabilities.require("hping3")
    return tool


def syn_flood(lab, attacker: str, target: str, port: int = 80, rate: float = 1000,
              seconds: float = 3, spoof: str | None = None, rand_source: bool = False,
              tool: str = "auto", out=None) -> GroundTruth:
    """Flood target's port with SYNs from attacker; blocks for the flood."""
    require_positive(rate=rate, seconds=seconds)
    if spoof and rand_source:
        raise UserError("give --spoof ADDR or --rand-source, not both.")
    tool = choose_tool(tool)
    targets = groundtruth.resolve(lab, target)
    argv = flood_argv(tool, targets[0], port, rate, seconds, spoof, rand_source)
    log = log_name("synflood")
    start, end = run_bounded(lab, attacker, argv, seconds * 3 + 5, log)
    sent = re.search(r"(\d+) packets transmitted|\"sent\": (\d+)", log_text(lab, log))
    count = int(next(g for g in sent.groups() if g)) if sent else None
    truth = GroundTruth("syn-flood", True, attacker, [node_ip(lab, attacker)], targets, [port],
                        tool, command(argv), rate, "SYN/s", start, end,
                        spoofed=bool(spoof or rand_source),
                        details={"sent": count, "achieved_rate":
                                 round(count / (end - start), 1) if count else None})
    groundtruth.write(lab, truth, out)
    return truth
