"""The floor under a kernel tap's cost: an empty eBPF program (two instructions: let
the packet through, return) at the hook a tap uses, on the same interface. What it
costs is the hook's own price, which no tap at that hook can go below; what a tap
costs beyond it is the tap's work::

    attach(lab, target, "xdp-pass")     # target: a taps.target.Target
    detach(lab, target, "xdp-pass")

``xdp-pass`` is generic (skb) XDP, as the ``xdp-flowtable`` tap attaches;
``tc-pass`` is a direct-action program on both clsact hooks, as the ``ebpf`` tap
attaches. The program is loaded with the bpf(2) system call: no compiler. The
attachment keeps it alive after this process exits; removing the hook (or the
interface, with its lab) frees it.
"""

import argparse
import ctypes
import os
import struct
import sys
from dataclasses import dataclass

from pyroute2 import IPRoute

from taplab import tcbpf
from taplab.taps.bpfmap import bpf

KINDS = ("xdp-pass", "tc-pass")
BPF_PROG_LOAD = 5
PROG_TYPE = {"xdp-pass": 6, "tc-pass": 3}  # BPF_PROG_TYPE_XDP, BPF_PROG_TYPE_SCHED_CLS
VERDICT = {"xdp-pass": 2, "tc-pass": 0}  # XDP_PASS, TC_ACT_OK
XDP_FLAGS_SKB_MODE = 2


@dataclass(frozen=True)
class Program:
    """A loaded program, as taplab.tcbpf.attach takes one."""

    fd: int
    name: str


def instructions(verdict: int) -> bytes:
    """``r0 = verdict; exit`` as eBPF instructions (code, registers, offset, immediate)."""
    insn = struct.Struct("<BBhi")
    return insn.pack(0xB7, 0, 0, verdict) + insn.pack(0x95, 0, 0, 0)


def load(kind: str) -> Program:
    """The empty program of kind, loaded."""
    code = ctypes.create_string_buffer(instructions(VERDICT[kind]))
    license_ = ctypes.create_string_buffer(b"GPL")
    # union bpf_attr, BPF_PROG_LOAD: prog_type, insn_cnt, insns, license, then zeros.
    attr = ctypes.create_string_buffer(
        struct.pack("<IIQQ", PROG_TYPE[kind], 2, ctypes.addressof(code), ctypes.addressof(license_))
        + bytes(96),
        120,
    )
    fd = bpf(BPF_PROG_LOAD, attr)
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"loading the empty {kind} program: {os.strerror(err)}")
    return Program(fd, kind.replace("-", "_"))


def load_and_attach(kind: str, intf: str) -> None:
    """Load kind's empty program and attach it to intf (in this namespace)."""
    program = load(kind)
    with IPRoute() as ipr:
        index = ipr.link_lookup(ifname=intf)[0]
        if kind == "xdp-pass":
            xdp = {"attrs": [("IFLA_XDP_FD", program.fd), ("IFLA_XDP_FLAGS", XDP_FLAGS_SKB_MODE)]}
            ipr.link("set", index=index, xdp=xdp)
        else:
            ipr.tc("add", "clsact", index)
            for hook in (tcbpf.INGRESS, tcbpf.EGRESS):
                tcbpf.attach(ipr, index, program, hook)


def attach(lab, target, kind: str) -> None:
    """Attach kind's empty program to the target interface (a taps.target.Target), from a
    process in its node that exits once it is attached."""
    lab.sh(target.node, [sys.executable, "-m", "taplab.bench.hook_floor", kind, target.intf])


def detach(lab, target, kind: str) -> None:
    """Remove kind's hook from the target interface (a taps.target.Target)."""
    if kind == "xdp-pass":
        argv = ["ip", "link", "set", "dev", target.intf, "xdpgeneric", "off"]
    else:
        argv = ["tc", "qdisc", "del", "dev", target.intf, "clsact"]
    lab.sh(target.node, argv)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("intf")
    args = parser.parse_args()
    load_and_attach(args.kind, args.intf)


if __name__ == "__main__":
    main()
