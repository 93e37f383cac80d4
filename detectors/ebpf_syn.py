"""In-kernel SYN counters: an eBPF program on tc ingress counting, per destination,
SYNs towards it, SYN-ACKs from it, FINs and RSTs towards it, and per sender, the TCP
probes no real stack sends outside a handshake (``syn_counter.c``).

    taplab exec --lab <lab> node1 python -m taplab.detectors.ebpf_syn --interval 0.2

Needs bcc and tc eBPF (capability ``tc_bpf``). Attaches to every bridge port
and uplink of the namespace (each frame counted once, as it enters), or to
``--iface``. Every interval it prints, per destination seen, one JSON row
``[time, dst, syn, synack, fin, rst, top_syn_source, its_syns]`` of the counts in that
interval; ``counts_into`` feeds them to the CUSUM detector. Per sender whose
stealth probes changed, one row ``[time, "stealth", src, last_dst, null, xmas, fin,
odd, replies, forged, last_forged_source]`` for ``stealth_counts``. It removes its
filters on exit.
"""

import argparse
import json
import os
import signal
import socket
import struct
import sys
import time
from pathlib import Path

from taplab import tcbpf
from taplab.detectors.cusum import CusumSynFlood
from taplab.detectors.sensor import bridged_namespace
from taplab.lambdas import Alert

SOURCE = Path(__file__).with_name("syn_counter.c")
PRIO = 61  # our filter's priority on clsact ingress
STEALTH = "stealth"  # the tag of per-sender stealth rows


def _addr(key: int) -> str:
    return socket.inet_ntoa(struct.pack("I", key))


def default_interfaces() -> list[str]:
    bridges = bridged_namespace()
    return sorted(
        n
        for n in os.listdir("/sys/class/net")
        if n != "lo" and n not in bridges and not n.startswith("ovs")
    )


def attach(interfaces: list[str]):
    from bcc import BPF
    from pyroute2 import IPRoute

    bpf = BPF(src_file=str(SOURCE))
    fn = bpf.load_func("count_syn", BPF.SCHED_CLS)
    ipr = IPRoute()
    attached = []  # (ifindex, whether we added its clsact qdisc)
    for name in interfaces:
        index = ipr.link_lookup(ifname=name)[0]
        try:
            ipr.tc("add", "clsact", index)
            created = True
        except Exception:  # noqa: BLE001 - clsact is already there: share it
            created = False
        attached.append((index, created))
        tcbpf.attach(ipr, index, fn, tcbpf.INGRESS, prio=PRIO)
    return bpf, ipr, attached


def detach(ipr, attached: list[tuple[int, bool]]) -> None:
    """Remove our filters, and the clsact qdiscs we added."""
    for index, created in attached:
        try:
            if created:
                ipr.tc("del", "clsact", index)
            else:
                ipr.tc("del-filter", "bpf", index, ":1", parent=tcbpf.INGRESS, prio=PRIO)
        except Exception:  # noqa: BLE001 - the interface went away with the lab
            pass


def poll(bpf, interval: float, out=sys.stdout) -> None:
    """Print each destination's counts per interval until interrupted."""
    previous: dict = {}
    previous_pairs: dict = {}
    previous_stealth: dict = {}
    print("# ready", file=sys.stderr, flush=True)
    while True:
        time.sleep(interval)
        now = time.time()
        counts = {k.value: (v.syn, v.synack, v.fin, v.rst) for k, v in bpf["per_dst"].items()}
        pairs = {(k.dst, k.src): v.value for k, v in bpf["syn_from"].items()}
        top: dict[int, tuple[int, int]] = {}
        for (dst, src), n in pairs.items():
            delta = n - previous_pairs.get((dst, src), 0)
            if delta > top.get(dst, (0, 0))[1]:
                top[dst] = (src, delta)
        for dst, values in counts.items():
            old = previous.get(dst, (0, 0, 0, 0))
            deltas = [v - o for v, o in zip(values, old, strict=True)]
            source, count = (_addr(top[dst][0]), top[dst][1]) if dst in top else (None, 0)
            out.write(json.dumps([now, _addr(dst), *deltas, source, count]) + "\n")
        previous_stealth = stealth_rows(bpf, previous_stealth, now, out)
        out.flush()
        previous, previous_pairs = counts, pairs


def stealth_rows(bpf, previous: dict, now: float, out) -> dict:
    """Print a row for each sender whose stealth counts changed; the counts now."""
    counts = {}
    for key, v in bpf["stealth_from"].items():
        values = counts[key.value] = (v.null, v.xmas, v.fin, v.odd, v.replies, v.forged)
        old = previous.get(key.value, (0,) * 6)
        if values == old:
            continue
        if any(n < o for n, o in zip(values, old, strict=True)):
            old = (0,) * 6  # the LRU map evicted the sender: it counts from zero again
        deltas = [n - o for n, o in zip(values, old, strict=True)]
        row = [now, STEALTH, _addr(key.value), _addr(v.dst), *deltas, _addr(v.claimed)]
        out.write(json.dumps(row) + "\n")
    return counts


def counts_into(cusum: CusumSynFlood, row: list) -> list[Alert]:
    """Feed one printed row to CUSUM, balancing SYNs with its balance kinds."""
    _time, dst, syn, synack, fin, rst, source, count = row
    balance = {"synack": synack, "fin": fin, "rst": rst}
    return cusum.observe_counts(
        dst, syn, sum(balance.get(k, 0) for k in cusum.balance), source, count
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iface", action="append", help="interface (default: ports, uplinks)")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds per row")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # run the finally below
    bpf, ipr, attached = attach(args.iface or default_interfaces())
    try:
        poll(bpf, args.interval)
    except KeyboardInterrupt:
        pass
    finally:
        detach(ipr, attached)


if __name__ == "__main__":
    main()
