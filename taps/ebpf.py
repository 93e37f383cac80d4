"""The ``ebpf`` tap: a bcc TC program (ebpf_tap.c) on the pod's host-side veth.

Per-CPU counters per protocol and TCP flag, an LRU map of flows (its
occupancy, and evictions = flows inserted minus flows still present), and an
optional mirror to the collector through the tap's copy path (``copy_path``:
its own veth pair and NAPI thread, then a VXLAN device): ``all`` packets, or
``http500``, the published trigger: a TCP stream is mirrored from the first
HTTP 500 response seen in it. A loader process in the node's namespace compiles
and attaches the program, then replaces itself (exec) with a reader of the
program's maps (``bpfmap``, no compiler resident) that writes the counters
every ``--interval`` seconds::

    python -m taplab.taps.ebpf --intf node1-eth1 --mode http500 --mirror-ifindex 7 \\
        --stats /run/taplab/labs/<id>/tap1.json
"""

import argparse
import signal
import socket
import struct
import sys
import time

from taplab import tcbpf
from taplab.taps import copy_path
from taplab.taps.base import (
    Tap,
    become_reader,
    compile_bpf,
    load_or_read,
    tap_kind,
    write_stats,
)
from taplab.taps.bpfmap import Map

MODES = {"none": 0, "all": 1, "http500": 2}
PROTOS = ("tcp", "udp", "icmp", "other_ip", "non_ip")
FLAGS = ("fin", "syn", "rst", "psh", "ack", "urg")
EVENTS = ("new_flows", "mirrored", "mirror_failed", "triggers")


FLOW_KEY = struct.Struct("<IIHHB3x")  # flow_key.h
FLOW_VAL = struct.Struct("<QQ")  # packets, bytes


def per_cpu_sums(counters: Map) -> dict[str, dict[str, int]]:
    """The counters array summed over CPUs, split as ebpf_tap.c lays it out."""
    groups = {"packets": PROTOS, "bytes": PROTOS, "tcp_flags": FLAGS, "events": EVENTS}
    values = []
    for i in range(sum(len(names) for names in groups.values())):
        raw = counters.lookup(struct.pack("I", i)) or b""
        values.append(sum(struct.unpack(f"{len(raw) // 8}Q", raw)))
    result, start = {}, 0
    for group, names in groups.items():
        result[group] = dict(zip(names, values[start : start + len(names)], strict=True))
        start += len(names)
    return result


def snapshot(counters: Map, flow_map: Map, mirrored: Map, capacity: int) -> dict:
    """The program's counters, summed over CPUs, and the flow map's state."""
    sums = per_cpu_sums(counters)
    packets, nbytes, events = sums["packets"], sums["bytes"], sums["events"]
    flows = [(FLOW_KEY.unpack(k), FLOW_VAL.unpack(v)) for k, v in flow_map.items()]
    top = sorted(flows, key=lambda kv: -kv[1][0])[:20]
    return {
        "packets": sum(packets.values()),
        "bytes": sum(nbytes.values()),
        "drops": events["mirror_failed"],
        "protocols": {p: {"packets": packets[p], "bytes": nbytes[p]} for p in PROTOS},
        "tcp_flags": sums["tcp_flags"],
        "flow_map": {
            "occupancy": len(flows),
            "capacity": capacity,
            "inserted": events["new_flows"],
            "evictions": max(events["new_flows"] - len(flows), 0),
        },
        "mirrored": events["mirrored"],
        "triggers": events["triggers"],
        "streams_mirrored": len(mirrored.keys()),
        "top_flows": [
            {
                "src": socket.inet_ntoa(saddr.to_bytes(4, "little")),
                "dst": socket.inet_ntoa(daddr.to_bytes(4, "little")),
                "proto": proto,
                "sport": sport,
                "dport": dport,
                "packets": n,
                "bytes": b,
            }
            for (saddr, daddr, sport, dport, proto), (n, b) in top
        ],
    }


def run_loader(args) -> None:
    """Compile, load and attach the program, then become the reader (exec, same process)
    with the maps' descriptors: the compiler does not stay resident."""
    from bcc import BPF
    from pyroute2 import IPRoute

    collector = int.from_bytes(socket.inet_aton(args.collector or "0.0.0.0"), "little")
    bpf = compile_bpf(
        "ebpf_tap.c",
        FLOW_ENTRIES=args.flows,
        MIRROR_ENTRIES=1024,
        MIRROR_MODE=MODES[args.mode],
        MIRROR_IFINDEX=args.mirror_ifindex,
        COLLECTOR_IP=collector,
    )
    fn = bpf.load_func("taplab_tap", BPF.SCHED_CLS)
    with IPRoute() as ipr:
        index = ipr.link_lookup(ifname=args.intf)[0]
        for hook in (tcbpf.INGRESS, tcbpf.EGRESS):
            tcbpf.attach(ipr, index, fn, hook)
    become_reader(bpf, fn, ("counters", "flows", "mirrored"))


def run_reader(args) -> None:
    """Write the counters every interval until SIGTERM, from the inherited maps."""
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    counters_fd, flows_fd, mirrored_fd = map(int, args.maps.split(","))
    maps = (
        Map(counters_fd, 4, 8, per_cpu=True),
        Map(flows_fd, FLOW_KEY.size, FLOW_VAL.size),
        Map(mirrored_fd, FLOW_KEY.size, 8),
    )
    ident = {"prog_id": args.prog_id}
    while not stop:
        write_stats(args.stats, snapshot(*maps, args.flows) | ident)
        time.sleep(args.interval)
    write_stats(args.stats, snapshot(*maps, args.flows) | ident)


@tap_kind
class EbpfTap(Tap):
    kind = "ebpf"
    needs = ("bcc", "tc_bpf")
    host_side = True

    @property
    def mirrors(self) -> bool:
        return self.options["mirror"] != "none"

    def attach(self) -> None:
        intf, ns = self.target.intf, self.target.netns
        ifindex, extra = 0, []
        if self.mirrors:
            extra = ["--collector", self.record["collector_ip"]]
            device = f"vx{self.id}"
            self.add_vxlan_device(device)
            near, _far = copy_path.add(self, device)
            ifindex = int(self.sh("cat", f"/sys/class/net/{near}/ifindex"))
        self.sh("tc", "qdisc", "add", "dev", intf, "clsact")
        self.add({"kind": "qdisc", "dev": intf, "parent": "clsact", "netns": ns})
        proc = self.start(
            [
                sys.executable,
                "-m",
                "taplab.taps.ebpf",
                "--intf",
                intf,
                "--mode",
                self.options["mirror"],
                "--mirror-ifindex",
                str(ifindex),
                "--flows",
                str(self.options["flows"]),
                "--interval",
                str(self.options["interval"] or 0.5),
                "--stats",
                str(self.stats_path),
                *extra,
            ]
        )
        self.wait_ready(proc)

    def counters(self) -> dict:
        counters = self.counters_from_file(
            "protocols", "tcp_flags", "flow_map", "mirrored", "triggers", "top_flows"
        )
        if self.mirrors and counters.get("drops") is not None:
            counters["drops"] += copy_path.ring_drops(self)
        return counters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intf", required=True)
    parser.add_argument("--mode", choices=list(MODES), default="none")
    parser.add_argument("--mirror-ifindex", type=int, default=0)
    parser.add_argument("--collector", help="collector IPv4 address (its copies are skipped)")
    parser.add_argument("--flows", type=int, default=1024, help="LRU flow map entries")
    parser.add_argument("--interval", type=float, default=0.5)
    load_or_read(
        parser, run_loader, run_reader, "counters,flows,mirrored map descriptors: read only"
    )


if __name__ == "__main__":
    main()
