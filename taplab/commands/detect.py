"""``taplab detect``: run detectors on a live capture in a running lab.

A sensor (AF_PACKET sniffer) starts in a node's namespace, optionally the
in-kernel eBPF SYN counter too; alerts print as they are raised. With
``--score``, the ground truth written meanwhile (``taplab attack`` /
``taplab traffic`` in another terminal) scores every detector at the end.
With ``--pcap`` the same detectors read a capture file instead (a pcap tap,
the collector's decapsulated frames, tcpdump).
"""

import time

from rich.table import Table

from taplab.commands import subcommand
from taplab.detectors import catalog, pcap_source, scoring
from taplab.detectors.live import LiveDetection
from taplab.errors import UserError
from taplab.lab import LabHandle
from taplab.output import console, print_json
from taplab.traffic import groundtruth


def register(sub) -> None:
    p = subcommand(sub, "detect", "run detectors on a live capture in a lab and print alerts",
                   ["sudo taplab detect --time 30 --score   (then attack from another terminal)",
                    "sudo taplab detect --detectors trw,cusum --ebpf --node node1",
                    "taplab detect --pcap capture.pcap --score --groundtruth runs/"])
    p.add_argument("--node", help="node to capture in (default: node1)")
    p.add_argument("--detectors", default=",".join(catalog.DETECTORS),
                   help=f"comma-separated (default: {','.join(catalog.DETECTORS)})")
    p.add_argument("--ebpf", action="store_true",
                   help="also count SYNs in the kernel (eBPF) feeding CUSUM (cusum-ebpf)")
    p.add_argument("--time", type=float, default=30, help="seconds (default 30; Ctrl-C stops)")
    p.add_argument("--score", action="store_true",
                   help="score against the ground truth written while detecting")
    p.add_argument("--pcap", metavar="FILE",
                   help="read a capture (pcap tap, collector --pcap, tcpdump) instead of a lab; "
                        "--score then reads --groundtruth")
    p.add_argument("--groundtruth", metavar="DIR", help="ground-truth folder for --pcap --score")
    p.add_argument("--lab", help="lab id (default: the only running lab)")
    p.add_argument("--json", action="store_true", help="print detections (and scores) as JSON")
    p.set_defaults(func=run)


def watch(lab, node: str, detectors: list, seconds: float, ebpf: bool = False,
          show=None) -> LiveDetection:
    """Run detectors live for seconds (or until Ctrl-C); show(detection) as they come."""
    live = LiveDetection(lab, node, detectors, ebpf=ebpf).start()
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            time.sleep(0.1)
            for det in live.poll():
                if show:
                    show(det)
    except KeyboardInterrupt:
        pass
    finally:
        live.stop()
    for det in live.poll():
        if show:
            show(det)
    return live


def _show(det: catalog.Detection) -> None:
    console.print(f"[red]{time.strftime('%H:%M:%S', time.localtime(det.time))} "
                  f"{det.detector}[/] {det.alert.name}: src {det.alert.src} "
                  f"dst {det.alert.dst or '-'}  {det.alert.detail}", highlight=False)


def from_pcap(args, detectors: list) -> tuple[list, list, list]:
    """Detections, observations and ground truth of a capture file."""
    if args.score and not args.groundtruth:
        raise UserError("--pcap --score needs --groundtruth DIR (where the runs wrote it).")
    observations = list(pcap_source.observations(args.pcap))
    until = observations[-1].time + 5 if observations else None
    detections = catalog.run(detectors, observations, until=until)
    if not args.json:
        for det in detections:
            _show(det)
    truths = groundtruth.load(args.groundtruth) if args.score else []
    return detections, observations, truths


def from_lab(args, detectors: list) -> tuple[list, list, list]:
    """Detections, observations and ground truth of a live capture in a lab."""
    if args.time <= 0:
        raise UserError(f"--time must be positive, got {args.time}.")
    lab = LabHandle.find(args.lab)
    node = args.node or "node1"
    lab.netns(node)  # an unknown node fails before anything starts
    started = time.time()
    if not args.json:
        names = ", ".join(d.name for d in detectors) + (" + cusum-ebpf" if args.ebpf else "")
        console.print(f"detecting in {node} for {args.time:g}s with {names} (Ctrl-C stops) ...")
    live = watch(lab, node, detectors, args.time, args.ebpf, None if args.json else _show)
    truths = ([t for t in groundtruth.load(groundtruth.folder(lab)) if t["start"] >= started]
              if args.score else [])
    return live.detections, live.observations, truths


def run(args) -> int:
    detectors = catalog.create(n.strip() for n in args.detectors.split(",") if n.strip())
    if args.pcap and args.ebpf:
        raise UserError("--ebpf counts live packets in the kernel: it cannot read --pcap.")
    detections, observations, truths = (from_pcap if args.pcap else from_lab)(args, detectors)
    result = {"detections": [d.as_dict() for d in detections]}
    if args.score:
        names = [d.name for d in detectors] + (["cusum-ebpf"] if args.ebpf else [])
        result["scores"] = [{"detector": n, **scoring.score(
            [d for d in detections if d.detector == n], truths, observations)} for n in names]
    if args.json:
        print_json(result)
        return 0
    if not detections:
        console.print(f"no alerts ({len(observations)} packets observed).")
    if args.score:
        table = Table(title=f"scores against {len(truths)} ground-truth records")
        for col in ("detector", "detected", "delay s", "probes", "TP", "FP", "misses"):
            table.add_column(col)
        for s in result["scores"]:
            table.add_row(*["-" if s[k] is None else str(s[k]) for k in (
                "detector", "detected", "delay_s", "probes", "true_positives",
                "false_positives", "misses")])
        console.print(table)
    return 0
