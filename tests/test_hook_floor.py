"""The empty hooks under the kernel taps (``bench.hook_floor``), on a real network."""

import json
import struct

import pytest

from taplab.bench import hook_floor
from taplab.lab import Lab
from taplab.taps import testbed
from taplab.taps.target import resolve
from tests.conftest import needs


def test_the_program_is_set_verdict_then_exit():
    insn = struct.Struct("<BBhi")
    code = hook_floor.instructions(2)
    assert [insn.unpack_from(code, i) for i in (0, 8)] == [(0xB7, 0, 0, 2), (0x95, 0, 0, 0)]


@pytest.fixture(scope="module")
def lab():
    with Lab("hook-floor-test") as lab:
        testbed.build(lab)
        yield lab


def ping_ok(lab) -> bool:
    out = lab.sh("client", ["ping", "-c", "3", "-i", "0.2", "-W", "1", "10.0.0.2"], check=False)
    return " 0% packet loss" in out


def attach(lab, kind):
    target = resolve(lab, "client", host_side=True)
    hook_floor.attach(lab, target, kind)
    return target


@needs("xdp")
def test_xdp_pass_attaches_in_generic_mode_lets_traffic_through_and_detaches(lab):
    target = attach(lab, "xdp-pass")
    [link] = json.loads(lab.sh(target.node, ["ip", "-j", "link", "show", "dev", target.intf]))
    assert link["xdp"]["mode"] == 2  # generic, as the xdp-flowtable tap
    assert ping_ok(lab)
    hook_floor.detach(lab, target, "xdp-pass")
    [link] = json.loads(lab.sh(target.node, ["ip", "-j", "link", "show", "dev", target.intf]))
    assert "xdp" not in link


@needs("tc_bpf")
def test_tc_pass_sits_on_both_clsact_hooks_lets_traffic_through_and_detaches(lab):
    target = attach(lab, "tc-pass")
    for hook in ("ingress", "egress"):
        out = lab.sh(target.node, ["tc", "filter", "show", "dev", target.intf, hook])
        assert "tc_pass direct-action" in out
    assert ping_ok(lab)
    hook_floor.detach(lab, target, "tc-pass")
    assert "clsact" not in lab.sh(target.node, ["tc", "qdisc", "show", "dev", target.intf])
