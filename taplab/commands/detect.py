"""``taplab detect``: run detectors on a live capture in a running lab.

A sensor (AF_PACKET sniffer) starts in a node's namespace, optionally the
in-kernel eBPF SYN counter too; alerts print as they are raised. With
``--score``, the ground truth written meanwhile (``taplab attack`` /
``taplab traffic`` in another terminal) scores every detector at the end.
With ``--pcap`` the same detectors read a capture file instead (a pcap tap,
the collector's decapsulated frames, tcpdump).
"""

import time

from taplab.commands import subcommand
from taplab.detectors import catalog, pcap_source, scoring
from taplab.detectors.live import KERNEL_DETECTORS, LiveDetection
from taplab.errors import UserError
from taplab.lab import LabHandle
from taplab.output import console, errors, print_json
from taplab.output import table as output_table
from taplab.traffic import groundtruth


def register(sub) -> None:
    p = subcommand(
        sub,
        "detect",
        "run detectors on a live capture in a lab and print alerts",
        [
            "sudo taplab detect --time 30 --score   (then attack from another terminal)",
            "sudo taplab detect --detectors trw,cusum --ebpf --node node1",
            "taplab detect --pcap capture.pcap --score --groundtruth runs/",
        ],
    )
    p.add_argument("--node", help="node to capture in (default: node1)")
    p.add_argument(
        "--detectors",
        default=",".join(catalog.DETECTORS),
        help=f"comma-separated (default: {','.join(catalog.DETECTORS)})",
    )
    p.add_argument(
        "--ebpf",
        action="store_true",
        help="also count SYNs and stealth probes in the kernel (eBPF) feeding CUSUM "
        "(cusum-ebpf) and a stealth-scan threshold (stealth-ebpf)",
    )
    p.add_argument("--time", type=float, default=30, help="seconds (default 30; Ctrl-C stops)")
    p.add_argument(
        "--score",
        action="store_true",
        help="score against the ground truth written while detecting",
    )
    p.add_argument(
        "--pcap",
        metavar="FILE",
        help="read a capture (pcap tap, collector --pcap, tcpdump) instead of a lab; "
        "--score then reads --groundtruth",
    )
    p.add_argument("--groundtruth", metavar="DIR", help="ground-truth folder for --pcap --score")
    p.add_argument("--lab", help="lab id (default: the only running lab)")
    p.add_argument("--json", action="store_true", help="print detections (and scores) as JSON")
    p.set_defaults(func=run)


def watch(
    lab, node: str, detectors: list, seconds: float, ebpf: bool = False, show=None
) -> tuple[LiveDetection, bool]:
    """Run detectors live for seconds (or until Ctrl-C or the lab stops); show(detection)
    as they come. Return the detection and whether the lab stopped meanwhile."""
    live, owner = LiveDetection(lab, node, detectors, ebpf=ebpf), lab.state.owner()
    try:
        live.start()
    except UserError:
        if owner.alive():
            raise
        live.stop()
        return live, True  # the lab stopped before its sensors were ready
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline and owner.alive():
            time.sleep(0.1)
            _poll(live, owner, show)
    except KeyboardInterrupt:
        pass
    finally:
        live.stop()
    _poll(live, owner, show)
    return live, not owner.alive()


def _poll(live: LiveDetection, owner, show) -> None:
    """Show new detections; a lab that stopped took the sensors' files with it."""
    try:
        found = live.poll()
    except OSError:
        if owner.alive():
            raise
        return
    for det in found:
        if show:
            show(det)


def _show(det: catalog.Detection) -> None:
    console.print(
        f"[red]{time.strftime('%H:%M:%S', time.localtime(det.time))} "
        f"{det.detector}[/] {det.alert.name}: src {det.alert.src} "
        f"dst {det.alert.dst or '-'}  {det.alert.detail}",
        highlight=False,
    )


def from_pcap(args, detectors: list) -> tuple[list, list, list, None]:
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
    return detections, observations, truths, None


def from_lab(args, detectors: list) -> tuple[list, list, list, str | None]:
    """Detections, observations and ground truth of a live capture in a lab, and the
    lab's id if it stopped before the time was up."""
    if args.time <= 0:
        raise UserError(f"--time must be positive, got {args.time}.")
    lab = LabHandle.find(args.lab)
    node = args.node or "node1"
    lab.netns(node)  # an unknown node fails before anything starts
    started = time.time()
    if not args.json:
        names = ", ".join([d.name for d in detectors] + (KERNEL_DETECTORS if args.ebpf else []))
        console.print(f"detecting in {node} for {args.time:g}s with {names} (Ctrl-C stops) ...")
    live, stopped = watch(lab, node, detectors, args.time, args.ebpf, None if args.json else _show)
    truths = (
        [t for t in groundtruth.load(groundtruth.folder(lab)) if t["start"] >= started]
        if args.score and not stopped
        else []
    )
    return live.detections, live.observations, truths, lab.id if stopped else None


def run(args) -> int:
    detectors = catalog.create(n.strip() for n in args.detectors.split(",") if n.strip())
    if args.pcap and args.ebpf:
        raise UserError("--ebpf counts live packets in the kernel: it cannot read --pcap.")
    source = from_pcap if args.pcap else from_lab
    detections, observations, truths, stopped = source(args, detectors)
    result = {"detections": [d.as_dict() for d in detections]}
    if stopped:
        result["lab_stopped"] = stopped
        _report(result, detections, observations, args.json)
        errors.print(
            f"taplab: lab {stopped} stopped while detecting: these are the "
            f"{len(detections)} alerts from {len(observations)} packets seen until "
            "then.",
            markup=False,
            highlight=False,
        )
        return 1
    if args.score:
        names = [d.name for d in detectors] + (KERNEL_DETECTORS if args.ebpf else [])
        result["scores"] = [
            {
                "detector": n,
                **scoring.score([d for d in detections if d.detector == n], truths, observations),
            }
            for n in names
        ]
    _report(result, detections, observations, args.json)
    if args.score and not args.json:
        table = output_table(
            "detector",
            "detected",
            "delay s",
            "probes",
            "TP",
            "FP",
            "misses",
            title=f"scores against {len(truths)} ground-truth records",
        )
        for s in result["scores"]:
            table.add_row(
                *[
                    "-" if s[k] is None else str(s[k])
                    for k in (
                        "detector",
                        "detected",
                        "delay_s",
                        "probes",
                        "true_positives",
                        "false_positives",
                        "misses",
                    )
                ]
            )
        console.print(table)
    return 0


def _report(result: dict, detections: list, observations: list, as_json: bool) -> None:
    """Print the result as JSON, or say that nothing was detected (alerts print live)."""
    if as_json:
        print_json(result)
    elif not detections:
        console.print(f"no alerts ({len(observations)} packets observed).")
