"""The ``xdp-flowtable`` tap: the published XDP flow table and its polling agent.

xdp_flowtable.c keeps a fixed array of flows indexed by a hash of the 5-tuple
(packets, bytes, SYN, RST, empty UDP; "keep if recent, else overwrite";
collisions counted). The agent polls the table every ``--interval`` seconds
(2 s as published), writes the counters and, when the lab runs a lambda
server, sends every flow as a telemetry flow record (``controllers/telemetry``),
which the server delivers to lambdas as ``telemetry`` events (through
``controllers.telemetry_agent``, optionally stop-and-wait with ``--ack``).

The loader compiles, loads and attaches the program inside the node's namespace
(XDP generic mode: ingress only, so on a pod's host-side veth it sees what the
pod sends), comes back to the root namespace and replaces itself (exec) with the
agent, which polls the maps by descriptor (``bpfmap``, no compiler resident)
and opens its telemetry socket there (the lambda server listens on the root
namespace's loopback)::

    python -m taplab.taps.xdp_flowtable --netns t1ab-s1 --intf s1-eth1 --interval 2 \\
        --stats /run/taplab/labs/t1ab/tap1.json --telemetry-lab t1ab --switch-id 1
"""

import argparse
import signal
import socket
import struct
import sys
import time
from pathlib import Path

from taplab.controllers.telemetry import FlowRecord, TelemetrySender, flow_counters
from taplab.controllers.telemetry_agent import TelemetryAgent
from taplab.shell import run
from taplab.state import find_lab
from taplab.taps import netns
from taplab.taps.base import (
    Tap,
    become_reader,
    compile_bpf,
    load_or_read,
    tap_kind,
    write_stats,
)
from taplab.taps.bpfmap import Map

STATS = ("collisions", "overwrites", "not_ip")
POLL_SECONDS = 2.0  # as published


ENTRY = struct.Struct("<IIHHB3xQQQQQQ")  # struct ft_entry: flow_key, six u64 counters


def read_table(table: Map, stats: Map, slots: int) -> tuple[list[dict], dict[str, int]]:
    """The occupied slots as flow dicts, and the program's counters."""
    flows = []
    for slot in range(slots):
        raw = table.lookup(struct.pack("I", slot))
        if not raw:
            continue
        saddr, daddr, sport, dport, proto, packets, nbytes, syn, rst, empty_udp, _last = (
            ENTRY.unpack(raw)
        )
        if packets:
            flows.append(
                {
                    "src": socket.inet_ntoa(saddr.to_bytes(4, "little")),
                    "dst": socket.inet_ntoa(daddr.to_bytes(4, "little")),
                    **flow_counters(proto, sport, dport, packets, nbytes, syn, rst, empty_udp),
                }
            )
    counts = {}
    for i, name in enumerate(STATS):
        raw = stats.lookup(struct.pack("I", i)) or b""
        counts[name] = sum(struct.unpack(f"{len(raw) // 8}Q", raw))
    return flows, counts


def run_loader(args) -> None:
    """Compile, load and attach the program in the node's namespace, come back to the
    root namespace, then become the agent (exec, same process) with the maps'
    descriptors: the compiler does not stay resident."""
    from bcc import BPF

    with netns.inside(args.netns):
        bpf = compile_bpf(
            "xdp_flowtable.c", SLOTS=args.slots, RECENT_NS=f"{int(args.recent * 1e9)}ULL"
        )
        fn = bpf.load_func("taplab_xdp_ft", BPF.XDP)
        bpf.attach_xdp(args.intf, fn, BPF.XDP_FLAGS_SKB_MODE)
    extra = ()
    if args.telemetry_lab:  # found here: the lab module (Mininet) stays out of the agent
        from taplab.lab import LabHandle

        lab = LabHandle(find_lab(args.telemetry_lab))
        if not lab.has_lambda_server:
            raise LookupError(f"lab {lab.id} runs no lambda server")
        extra = (
            "--telemetry-port",
            str(lab.controller["telemetry_port"]),
            "--telemetry-key-file",
            lab.controller["telemetry_key_file"],
        )
    become_reader(bpf, fn, ("table", "stats"), extra)


def run_agent(args) -> None:
    """Poll the inherited maps every interval until SIGTERM, then take the program off."""
    flows: list[dict] = []
    agent = None
    if args.telemetry_port:  # the lambda server listens on the root namespace's loopback
        key = bytes.fromhex(args.telemetry_key_file.read_text().strip())
        sender = TelemetrySender(("127.0.0.1", args.telemetry_port), args.switch_id, key=key)
        agent = TelemetryAgent(
            sender, lambda: [FlowRecord(**f) for f in flows], period=args.interval, ack=args.ack
        )
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    table_fd, stats_fd = map(int, args.maps.split(","))
    table, stats = Map(table_fd, 4, ENTRY.size), Map(stats_fd, 4, 8, per_cpu=True)
    polls = sent = 0
    try:
        while True:
            flows[:], counts = read_table(table, stats, args.slots)
            if agent and flows:
                agent.collect()
                sent += agent.flush()
            polls += 1
            top = sorted(flows, key=lambda f: -f["packets"])[:20]
            write_stats(
                args.stats,
                {
                    "packets": sum(f["packets"] for f in flows),
                    "bytes": sum(f["bytes"] for f in flows),
                    "drops": counts["collisions"],
                    **counts,
                    "occupancy": len(flows),
                    "slots": args.slots,
                    "polls": polls,
                    "telemetry_transactions": sent,
                    "flows": top,
                    "prog_id": args.prog_id,
                },
            )
            if stop:
                break
            deadline = time.monotonic() + args.interval
            while not stop and time.monotonic() < deadline:
                time.sleep(min(0.05, args.interval))
    finally:
        run(
            ["ip", "link", "set", "dev", args.intf, "xdpgeneric", "off"],
            check=False,
            netns=args.netns,
        )


@tap_kind
class XdpFlowtableTap(Tap):
    kind = "xdp-flowtable"
    needs = ("bcc", "xdp")
    host_side = True
    sees = "from-pod"

    def attach(self) -> None:
        argv = [
            sys.executable,
            "-m",
            "taplab.taps.xdp_flowtable",
            "--netns",
            self.target.netns,
            "--intf",
            self.target.intf,
            "--slots",
            str(self.options["slots"]),
            "--interval",
            str(self.options["interval"] or POLL_SECONDS),
            "--stats",
            str(self.stats_path),
        ]
        if self.lab.has_lambda_server:
            argv += [
                "--telemetry-lab",
                self.lab.id,
                "--switch-id",
                str(int(self.id.removeprefix("tap"))),
            ]
            argv += ["--ack"] if self.options["ack"] else []
        self.wait_ready(self.start(argv, in_node=False))

    def detach(self) -> None:
        super().detach()
        # The agent removes its program on SIGTERM; after a SIGKILL this does.
        run(
            ["ip", "link", "set", "dev", self.target.intf, "xdpgeneric", "off"],
            check=False,
            netns=self.target.netns,
        )

    def counters(self) -> dict:
        return self.counters_from_file(
            *STATS, "occupancy", "slots", "polls", "telemetry_transactions", "flows"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--netns", required=True)
    parser.add_argument("--intf", required=True)
    parser.add_argument("--slots", type=int, default=4096)
    parser.add_argument(
        "--recent",
        type=float,
        default=2.0,
        help="seconds a slot's flow is kept against colliding flows",
    )
    parser.add_argument(
        "--interval", type=float, default=POLL_SECONDS, help="seconds between polls"
    )
    parser.add_argument("--telemetry-lab", help="send telemetry to this lab's lambda server")
    parser.add_argument("--switch-id", type=int, default=1)
    parser.add_argument("--ack", action="store_true", help="stop-and-wait ACKed telemetry")
    parser.add_argument("--telemetry-port", type=int, help="the lambda server's (after exec)")
    parser.add_argument("--telemetry-key-file", type=Path, help="its key (after exec)")
    load_or_read(
        parser, run_loader, run_agent, "table,stats map descriptors: poll only (after exec)"
    )


if __name__ == "__main__":
    main()
