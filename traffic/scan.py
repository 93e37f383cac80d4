"""Scans with ground truth: nmap's techniques and evasions, or the scapy SYN scanner.

    nmap_scan(lab, "pod1", "pod2", kind="sS", timing="T4", ports="1-1000")
    nmap_scan(lab, "pod1", "pod2", kind="sF", ports="1-100")                # FIN scan
    nmap_scan(lab, "pod1", "10.244.1.0/28", kind="sn", ping=["PS80", "PE"])  # discovery
    nmap_scan(lab, "pod1", "pod2", evasion=Evasion(decoys=["pod3", "RND:3"], fragment=True))
    nmap_scan(lab, "pod1", "pod2", kind="sI", zombie="pod4")                 # idle scan
    scapy_scan(lab, "pod1", "pod2", ports="1-100", rate=50)

Slow templates wait long between probes (T1: 15 s, T0: 5 min), so give them
few ports; the run is bounded by ``limit`` seconds. The ground truth names the
attacker's address only; decoys (nodes and addresses given, ``RND:n`` as
such) are listed under ``details.decoys`` and the idle scan's zombie under
``details.zombie``: neither is an attacker.
"""

from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field

from taplab import capabilities
from taplab.errors import UserError
from taplab.rowlog import start_module
from taplab.traffic import groundtruth
from taplab.traffic.groundtruth import GroundTruth
from taplab.traffic.ports import parse_ports
from taplab.traffic.running import python_module, record, require_positive, run_logged

KINDS = ("sS", "sT", "sU", "sA", "sW", "sM", "sN", "sF", "sX", "sO", "sY", "sI", "sn")
TIMINGS = ("T0", "T1", "T2", "T3", "T4", "T5")
PINGS = ("PS", "PA", "PU", "PE", "PP", "PM")
NO_PORTS = ("sn",)


@dataclass
class Evasion:
    """nmap's evasion options: decoys (-D), fragments (-f, --mtu), source port (-g),
    padding (--data-length), host order (--randomize-hosts), pacing (--scan-delay,
    --max-rate)."""

    decoys: list[str] = field(default_factory=list)
    fragment: bool = False
    mtu: int | None = None
    source_port: int | None = None
    data_length: int | None = None
    randomize_hosts: bool = False
    scan_delay: str | None = None
    max_rate: float | None = None

    def argv(self, decoy_addresses: list[str]) -> list[str]:
        argv = ["-D", ",".join([*decoy_addresses, "ME"])] if decoy_addresses else []
        argv += ["-f"] if self.fragment else []
        if self.mtu is not None:
            if self.mtu <= 0 or self.mtu % 8:
                raise UserError(f"--mtu must be a positive multiple of 8, got {self.mtu}.")
            argv += ["--mtu", str(self.mtu)]
        argv += ["-g", str(self.source_port)] if self.source_port is not None else []
        argv += ["--data-length", str(self.data_length)] if self.data_length is not None else []
        argv += ["--randomize-hosts"] if self.randomize_hosts else []
        argv += ["--scan-delay", self.scan_delay] if self.scan_delay else []
        argv += ["--max-rate", f"{self.max_rate:g}"] if self.max_rate else []
        return argv


def check_ping(ping: list[str]) -> None:
    for probe in ping:
        if probe[:2] not in PINGS:
            raise UserError(f"unknown ping probe '-{probe}': choose from {', '.join(PINGS)}.")


def nmap_argv(
    kind: str,
    timing: str,
    targets: str,
    ports: str | None,
    ping: list[str] = (),
    extra: list[str] = (),
    zombie: str | None = None,
) -> list[str]:
    if kind not in KINDS:
        raise UserError(f"unknown scan kind '{kind}': choose from {', '.join(KINDS)}.")
    if timing not in TIMINGS:
        raise UserError(f"unknown timing '{timing}': choose from {', '.join(TIMINGS)}.")
    check_ping(ping)
    if kind == "sI" and not zombie:
        raise UserError("an idle scan (-sI) needs --zombie NODE.")
    argv = ["nmap", f"-{kind}", zombie] if kind == "sI" else ["nmap", f"-{kind}"]
    argv += [f"-{timing}", "-n", *[f"-{p}" for p in ping], *extra]
    if kind == "sI":
        argv += ["-Pn"]  # the attacker never pings the target itself
    if kind not in NO_PORTS:
        argv += ["-p", ports or ("1-255" if kind == "sO" else "1-1000")]
    return [*argv, targets]


def decoy_addresses(lab, decoys: list[str]) -> list[str]:
    """nmap -D entries: nodes become their addresses, RND:n and addresses stay."""
    out = []
    for decoy in decoys:
        if decoy.startswith("RND"):
            out.append(decoy)
        else:
            out += groundtruth.resolve(lab, decoy)[:1]
    return out


DROP_KERNEL_RSTS = ["OUTPUT", "-p", "tcp", "--tcp-flags", "RST", "RST", "-j", "DROP"]


@contextmanager
def idle_zombie(lab, node: str):
    """node answers as an idle-scan zombie (``taplab.traffic.zombie``) while in the block."""
    lab.sh(node, ["iptables", "-I", *DROP_KERNEL_RSTS])
    try:
        responder = start_module(
            lab, node, "taplab.traffic.zombie", "zombie", "--iface", f"{node}-eth0"
        )
        try:
            yield
        finally:
            responder.stop()
    finally:
        lab.sh(node, ["iptables", "-D", *DROP_KERNEL_RSTS])


def nmap_scan(
    lab,
    attacker: str,
    target: str,
    kind: str = "sS",
    timing: str = "T4",
    ports: str | None = None,
    limit: float = 600,
    out=None,
    ping: list[str] = (),
    evasion: Evasion | None = None,
    zombie: str | None = None,
) -> GroundTruth:
    """Run nmap from attacker against target (node, address or CIDR); blocks until done."""
    capabilities.require("nmap")
    require_positive(limit=limit)
    evasion = evasion or Evasion()
    targets = groundtruth.resolve(lab, target)
    spec = target if target not in lab.nodes else targets[0]
    decoys = decoy_addresses(lab, evasion.decoys)
    zombie_ip = groundtruth.resolve(lab, zombie)[0] if zombie else None
    argv = nmap_argv(kind, timing, spec, ports, list(ping), evasion.argv(decoys), zombie_ip)
    port_list = [] if kind in NO_PORTS else parse_ports(argv[argv.index("-p") + 1])
    with idle_zombie(lab, zombie) if kind == "sI" else nullcontext():
        run = run_logged(lab, attacker, argv, limit, f"nmap-{kind}")
    summary = run.text.strip().splitlines()
    return record(
        lab,
        run,
        "scan",
        True,
        targets,
        port_list,
        "nmap",
        len(port_list or targets) / max(run.end - run.start, 1e-3),
        "probes/s (mean)",
        out,
        details={
            "scan": kind,
            "timing": timing,
            "ping": list(ping),
            "decoys": decoys,
            "zombie": zombie_ip,
            "evasion": asdict(evasion),
            "summary": summary[-1] if summary else "",
        },
    )


def scapy_scan(
    lab,
    attacker: str,
    target: str,
    ports: str = "1-1000",
    rate: float = 100,
    limit: float = 600,
    out=None,
) -> GroundTruth:
    """The scapy SYN scanner from attacker against one target; blocks until done."""
    require_positive(rate=rate, limit=limit)
    targets = groundtruth.resolve(lab, target)
    port_list = parse_ports(ports)
    argv = python_module(
        "taplab.traffic.synscan", "--target", targets[0], "--ports", ports, "--rate", str(rate)
    )
    run = run_logged(lab, attacker, argv, limit, "synscan")
    return record(
        lab,
        run,
        "scan",
        True,
        targets[:1],
        port_list,
        "scapy",
        rate,
        "probes/s",
        out,
        details={"scan": "sS", "result": run.summary()},
    )
