"""``taplab capture NODE[:INTF]``: a live pcapng capture of a node's interface,
into the lab's output folder, a file, or stdout (``-w -``) for Wireshark::

    sudo taplab capture pod1 -w - | wireshark -k -i -
"""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from taplab import artefacts, capabilities, pcapng
from taplab.commands import subcommand
from taplab.errors import UserError
from taplab.lab import LabHandle
from taplab.output import errors
from taplab.shell import in_netns
from taplab.taps.target import resolve

# Whole frames, each written at once; a 32 MiB kernel buffer rides out bursts
# (a scan) while Python converts the stream.
TCPDUMP = ["tcpdump", "-s", "0", "-B", "32768", "-U", "--immediate-mode", "-w", "-"]


def register(sub) -> None:
    p = subcommand(
        sub,
        "capture",
        "capture a node's interface to pcapng (a file or stdout)",
        [
            "sudo taplab capture pod1                 into the lab's captures/ folder",
            "sudo taplab capture pod1:pod1-eth0 -w web.pcapng -c 100",
            "sudo taplab capture node1:vxlan0 --duration 10 -f 'udp port 4789'",
            "sudo taplab capture pod1 -w -           to stdout: ... | wireshark -k -i -",
        ],
    )
    p.add_argument("target", metavar="NODE[:INTF]", help="node, and interface (default its veth)")
    p.add_argument(
        "-f",
        "--filter",
        default="",
        metavar="EXPR",
        help="tcpdump filter expression, e.g. 'tcp port 80'",
    )
    p.add_argument(
        "-w",
        dest="file",
        metavar="FILE|-",
        help="where the pcapng goes; - is stdout (default: the lab's output folder, "
        "captures/NODE-INTF-TIME.pcapng)",
    )
    p.add_argument("-c", dest="count", type=int, metavar="N", help="stop after N packets")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    p.add_argument("--lab", help="lab id (default: the only running lab)")
    p.set_defaults(func=run)


def default_path(lab: LabHandle, node: str, intf: str) -> Path:
    folder = lab.workdir / "captures"
    folder.mkdir(exist_ok=True)
    return folder / f"{node}-{intf}-{time.strftime('%Y%m%d-%H%M%S')}.pcapng"


def _open(path: Path):
    try:
        return open(path, "wb")
    except OSError as exc:
        raise UserError(f"cannot write the capture to {path}: {exc.strerror}.") from None


def tcpdump(netns: str, intf: str, count: int | None, expression: list[str]) -> list[str]:
    """tcpdump writing pcap to stdout, each packet as it comes."""
    count_option = ["-c", str(count)] if count else []
    return in_netns([*TCPDUMP, "-i", intf, *count_option, *expression], netns)


def run(args) -> int:
    capabilities.require("tcpdump")
    if (
        args.count is not None
        and args.count < 1
        or args.duration is not None
        and args.duration <= 0
    ):
        raise UserError("-c and --duration need a positive number.")
    lab = LabHandle.find(args.lab)
    target = resolve(lab, args.target)
    to_stdout = args.file == "-"
    path = (
        None
        if to_stdout
        else Path(args.file)
        if args.file
        else default_path(lab, target.node, target.intf)
    )
    out = sys.stdout.buffer if to_stdout else _open(path)
    proc = subprocess.Popen(
        tcpdump(target.netns, target.intf, args.count, args.filter.split()),
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )  # Ctrl-C reaches us; we stop tcpdump
    stop = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    stopper = threading.Thread(target=_stop_when, args=(proc, stop, args.duration), daemon=True)
    stopper.start()
    count = 0
    try:
        count = pcapng.convert(proc.stdout, out, target.intf)
    except BrokenPipeError:  # the reader went away (Wireshark closed, `| head`)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    finally:
        signal.signal(signal.SIGINT, previous)
        stop.set()
        proc.wait()
        if not to_stdout:
            out.close()
            artefacts.hand_over(path, artefacts.invoking_user())
    if proc.returncode > 0:  # tcpdump said why on stderr (a bad filter, a vanished interface)
        if path and not count:
            path.unlink(missing_ok=True)
        raise UserError(
            f"tcpdump on {target.node}:{target.intf} failed (exit code {proc.returncode})."
        )
    where = "stdout" if to_stdout else str(path)
    errors.print(
        f"{count} packets from {target.node}:{target.intf} written to {where}",
        markup=False,
        highlight=False,
    )
    return 0


def _stop_when(proc: subprocess.Popen, stop: threading.Event, duration: float | None) -> None:
    """Stop tcpdump on Ctrl-C, after duration seconds, or when the capture ends."""
    stop.wait(duration)
    if proc.poll() is None:
        proc.terminate()
