"""Helpers of the tap tests: a scapy burst nobody answers, waiting for quiet, leftovers."""

import json
import subprocess
import sys
import time

from taplab.procs import ProcessId
from taplab.shell import run
from taplab.taps import session
from tests.conftest import wait_for

FAKE = ("10.0.0.77", "02:00:00:00:00:77")  # no such host: nothing answers the burst
DPORT = 7000


def burst(
    lab, n: int | dict[int, int], empty: bool = False, node: str = "client", src: str = "10.0.0.1"
) -> None:
    """n UDP frames from node (src) to FAKE port DPORT (or {port: frames, ...} in that
    order), in one scapy send; the payload is the frame's sequence number
    (``seq000042``), or nothing when empty."""
    counts = n if isinstance(n, dict) else {DPORT: n}
    payload = "b''" if empty else "b'seq%06d' % i"
    code = (
        "from scapy.all import Ether, IP, UDP, Raw, sendp\n"
        f"frames = [Ether(dst='{FAKE[1]}') / IP(src='{src}', dst='{FAKE[0]}') / "
        f"UDP(sport=5555, dport=port) / Raw({payload}) "
        f"for port, count in {counts!r}.items() for i in range(count)]\n"
        f"sendp(frames, iface='{node}-eth0', verbose=False)\n"
    )
    run([sys.executable, "-c", code], netns=lab.netns(node), timeout=120)


def quiet(lab, tap_id: str) -> dict:
    """The tap's stats once nothing has crossed it for a second (set-up chatter is over)."""
    last = [session.stats(lab, tap_id)]

    def settled():
        time.sleep(1.0)
        now = session.stats(lab, tap_id)
        same = now["packets"] == last[0]["packets"]
        last[0] = now
        return now if same else None

    return wait_for(settled, timeout=20, what="the network to be quiet")


def prog_ids(lab, records: list[dict]) -> list[int]:
    """The BPF program ids of the attached taps (taken before they go)."""
    return [
        session.stats(lab, r["id"])["prog_id"]
        for r in records
        if r["kind"] in ("ebpf", "xdp-flowtable")
    ]


def live_programs(ids: list[int]) -> list[int]:
    """Which of these BPF program ids still exist."""
    return [
        i
        for i in ids
        if subprocess.run(["bpftool", "prog", "show", "id", str(i)], capture_output=True).returncode
        == 0
    ]


def leftovers(lab, record: dict, prog_id: int | None = None) -> list[str]:
    """What of a detached tap still exists: qdiscs, filters, VXLAN devices and
    tc-mirred's veth pairs, XDP,
    its BPF program (by id: other labs' taps may run the same program), its processes."""
    node, intf = record["target"]["node"], record["target"]["intf"]
    left = []
    qdiscs = json.loads(lab.sh(node, ["tc", "-j", "qdisc", "show", "dev", intf]) or "[]")
    left += [f"qdisc {q['kind']}" for q in qdiscs if q["kind"] in ("clsact", "ingress")]
    for hook in ("ingress", "egress"):
        out = lab.sh(node, ["tc", "-j", "filter", "show", "dev", intf, hook], check=False)
        left += [f"{hook} filter" for _ in json.loads(out or "[]")] if out.startswith("[") else []
    links = json.loads(lab.sh(node, ["ip", "-j", "-d", "link", "show"]))
    left += [f"link {ln['ifname']}" for ln in links if ln["ifname"].startswith(("vx", "tm"))]
    left += [f"xdp on {ln['ifname']}" for ln in links if "xdp" in ln]
    left += [f"bpf prog {i}" for i in live_programs([prog_id] if prog_id else [])]
    for r in record["resources"]:
        if r["kind"] == "process" and ProcessId(r["pid"], r["started"]).alive():
            left.append(f"process {r['pid']}")
    return left
