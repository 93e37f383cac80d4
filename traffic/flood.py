"""Floods with ground truth: SYN, ACK, RST, UDP and ICMP floods with hping3 (SYN with
scapy where hping3 is missing), from one pod, from forged sources, or from many pods.

    syn_flood(lab, "pod1", "pod2", port=80, rate=1000, seconds=3)
    syn_flood(lab, "pod1", "pod2", rand_source=True)             # random forged sources
    flood(lab, "pod1", "pod2", kind="udp", rate=2000, seconds=3)  # ack, rst, udp, icmp too
    distributed_flood(lab, ["pod3", "pod4", ...], "pod2", rate=100, seconds=3)

hping3 sends ``-c rate*seconds`` packets every ``-i u<1e6/rate>`` microseconds;
the ground truth records the requested rate and the rate it reached. A
distributed flood starts one hping3 per attacker at once; its ground truth
names every attacker's address and the summed rate.
"""

import re
import time
from concurrent.futures import ThreadPoolExecutor

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
    record,
    require_positive,
    run_bounded,
    run_logged,
)

TOOLS = ("auto", "hping3", "scapy")
HPING_MODES = {"syn": ["-S"], "ack": ["-A"], "rst": ["-R"], "udp": ["--udp"], "icmp": ["--icmp"]}
KINDS = tuple(HPING_MODES)


def flood_argv(
    tool: str,
    target: str,
    port: int,
    rate: float,
    seconds: float,
    spoof: str | None,
    rand_source: bool,
    kind: str = "syn",
) -> list[str]:
    if tool == "hping3":
        argv = ["hping3", *HPING_MODES[kind], "-q"]
        argv += [] if kind == "icmp" else ["-p", str(port)]
        argv += ["-i", f"u{max(1, int(1e6 / rate))}", "-c", str(max(1, int(rate * seconds)))]
        argv += ["--rand-source"] if rand_source else (["-a", spoof] if spoof else [])
        return [*argv, target]
    argv = python_module(
        "taplab.traffic.scapyflood",
        "--target",
        target,
        "--port",
        str(port),
        "--rate",
        str(rate),
        "--seconds",
        str(seconds),
    )
    return argv + (["--rand-source"] if rand_source else (["--spoof", spoof] if spoof else []))


def choose_tool(tool: str, kind: str = "syn") -> str:
    if tool not in TOOLS:
        raise UserError(f"unknown flood tool '{tool}': choose from {', '.join(TOOLS)}.")
    if kind not in KINDS:
        raise UserError(f"unknown flood kind '{kind}': choose from {', '.join(KINDS)}.")
    if tool == "scapy" and kind != "syn":
        raise UserError(f"the scapy flooder sends SYNs only: a {kind} flood needs hping3.")
    if tool == "auto":
        return "hping3" if kind != "syn" or capabilities.available("hping3") else "scapy"
    if tool == "hping3" or kind != "syn":
        capabilities.require("hping3")
    return tool


def _sent(text: str) -> int | None:
    sent = re.search(r"(\d+) packets transmitted|\"sent\": (\d+)", text)
    return int(next(g for g in sent.groups() if g)) if sent else None


def _check(rate: float, seconds: float, spoof: str | None, rand_source: bool) -> None:
    require_positive(rate=rate, seconds=seconds)
    if spoof and rand_source:
        raise UserError("give --spoof ADDR or --rand-source, not both.")


def flood(
    lab,
    attacker: str,
    target: str,
    kind: str = "syn",
    port: int = 80,
    rate: float = 1000,
    seconds: float = 3,
    spoof: str | None = None,
    rand_source: bool = False,
    tool: str = "auto",
    out=None,
) -> GroundTruth:
    """Flood target (its port, for TCP and UDP) from attacker; blocks for the flood."""
    _check(rate, seconds, spoof, rand_source)
    tool = choose_tool(tool, kind)
    targets = groundtruth.resolve(lab, target)
    argv = flood_argv(tool, targets[0], port, rate, seconds, spoof, rand_source, kind)
    run = run_logged(lab, attacker, argv, seconds * 3 + 5, f"{kind}flood")
    count = _sent(run.text)
    return record(
        lab,
        run,
        f"{kind}-flood",
        True,
        targets,
        [] if kind == "icmp" else [port],
        tool,
        rate,
        f"{kind.upper()}/s",
        out,
        spoofed=bool(spoof or rand_source),
        details={
            "sent": count,
            "achieved_rate": round(count / (run.end - run.start), 1) if count else None,
        },
    )


def syn_flood(lab, attacker: str, target: str, *args, **kwargs) -> GroundTruth:
    """flood() with kind "syn" (the arguments after target are flood's after kind):
    target's port flooded with SYNs from attacker; blocks for the flood."""
    return flood(lab, attacker, target, "syn", *args, **kwargs)


def distributed_flood(
    lab,
    attackers: list[str],
    target: str,
    kind: str = "syn",
    port: int = 80,
    rate: float = 100,
    seconds: float = 3,
    out=None,
) -> GroundTruth:
    """Every attacker floods target at rate (each) at the same time; blocks for the flood."""
    _check(rate, seconds, None, False)
    if len(attackers) < 2:
        raise UserError("a distributed flood needs at least two attackers.")
    choose_tool("hping3", kind)
    targets = groundtruth.resolve(lab, target)
    argv = flood_argv("hping3", targets[0], port, rate, seconds, None, False, kind)
    logs = [log_name(f"dflood-{a}") for a in attackers]
    start = time.time()
    with ThreadPoolExecutor(len(attackers)) as pool:
        list(
            pool.map(
                lambda a_log: run_bounded(lab, a_log[0], argv, seconds * 3 + 5, a_log[1]),
                zip(attackers, logs, strict=True),
            )
        )
    end = time.time()
    sent = [_sent(log_text(lab, log)) or 0 for log in logs]
    truth = GroundTruth(
        f"distributed-{kind}-flood",
        True,
        ",".join(attackers),
        [node_ip(lab, a) for a in attackers],
        targets,
        [] if kind == "icmp" else [port],
        "hping3",
        command(argv),
        rate * len(attackers),
        f"{kind.upper()}/s (sum)",
        start,
        end,
        details={
            "attackers": len(attackers),
            "rate_each": rate,
            "sent": sum(sent),
            "achieved_rate": round(sum(sent) / (end - start), 1),
        },
    )
    groundtruth.write(lab, truth, out)
    return truth
