"""Controller logic without a switch: learning switch, mirror, lambda actions as OpenFlow,
packet-ins as events, and the ryu import shim (in a separate process)."""

import subprocess
import sys
from types import SimpleNamespace

import pytest
from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import Ether

from taplab.controllers.learning import LearningSwitch
from taplab.controllers.mirror import mirror_messages, resolve_port
from taplab.controllers.packets import is_tcp_control, packet_event, tcp_flag_string
from taplab.controllers.pipeline import COPY_TABLE, POLICY_TABLE, SWITCH_TABLE
from taplab.controllers.policy import BLOCK_PRIORITY, action_messages, copy_flows
from taplab.lambdas import Alert, Block, InstallFlow, Mirror, RateLimit

A, B = "02:00:00:00:00:01", "02:00:00:00:00:02"


def datapath(dpid: int = 1):
    return SimpleNamespace(id=dpid, ofproto=ofp, ofproto_parser=parser)


def packet_in(dp, in_port: int, frame, table: int = SWITCH_TABLE):
    return parser.OFPPacketIn(
        dp,
        buffer_id=ofp.OFP_NO_BUFFER,
        total_len=len(frame),
        reason=ofp.OFPR_NO_MATCH,
        table_id=table,
        match=parser.OFPMatch(in_port=in_port),
        data=bytes(frame),
    )


def wire(msg) -> bytes:
    """Serialize as os-ken would send it: proves the message is valid OpenFlow 1.3."""
    msg.set_xid(1)
    msg.serialize()
    return bytes(msg.buf)


def test_learning_switch_floods_then_installs_flows_with_idle_timeout():
    dp, switch = datapath(), LearningSwitch(table=SWITCH_TABLE, idle_timeout=30)
    miss, *gotos = switch.connected(dp)
    assert (miss.table_id, miss.priority) == (SWITCH_TABLE, 0)
    assert miss.instructions[0].actions[0].port == ofp.OFPP_CONTROLLER
    assert [(g.table_id, g.instructions[0].table_id) for g in gotos] == [
        (COPY_TABLE, POLICY_TABLE),
        (POLICY_TABLE, SWITCH_TABLE),
    ]
    first = switch.packet_in(dp, packet_in(dp, 1, Ether(src=A, dst=B) / IP()))
    assert len(first) == 1 and first[0].actions[0].port == ofp.OFPP_FLOOD
    reply = switch.packet_in(dp, packet_in(dp, 2, Ether(src=B, dst=A) / IP()))
    flow, out = reply
    assert dict(flow.match.items()) == {"in_port": 2, "eth_dst": A, "eth_src": B}
    assert flow.idle_timeout == 30 and flow.instructions[0].actions[0].port == 1
    assert out.actions[0].port == 1 and out.data
    for msg in (miss, *gotos, flow, out):
        assert len(wire(msg)) > 8


def test_learning_switch_ignores_copies_made_by_another_table():
    dp, switch = datapath(), LearningSwitch(table=SWITCH_TABLE)
    assert switch.packet_in(dp, packet_in(dp, 1, Ether(src=A, dst=B) / IP(), COPY_TABLE)) == []


def test_ryu_style_switch_lives_in_table_0():
    dp = datapath()
    msgs = LearningSwitch(table=0).connected(dp)
    assert [m.table_id for m in msgs] == [0]


def test_mirror_resolves_port_names_with_or_without_the_lab_prefix():
    ports = {"t1abs1-eth1": 1, "t1abs1-eth3": 3}
    assert resolve_port(ports, "s1-eth3") == 3
    assert resolve_port(ports, "t1abs1-eth1") == 1 and resolve_port(ports, "7") == 7
    assert resolve_port(ports, "nope") is None and resolve_port(ports, "eth3") == 3
    assert resolve_port({**ports, "t2cds1-eth3": 9}, "s1-eth3") is None  # ambiguous
    dp = datapath()
    (msg,) = mirror_messages(
        dp, ports, [{"to_port": "s1-eth3", "in_port": "s1-eth1"}, {"to_port": "missing"}]
    )
    assert dict(msg.match.items()) == {"in_port": 1}
    apply, goto = msg.instructions
    assert apply.actions[0].port == 3 and goto.table_id == SWITCH_TABLE
    wire(msg)


def test_block_is_a_drop_flow_with_a_hard_timeout():
    (msg,) = action_messages(Block(src="10.244.1.2", seconds=5), datapath(), {})
    assert dict(msg.match.items()) == {"eth_type": 0x0800, "ipv4_src": "10.244.1.2"}
    assert msg.instructions == [] and msg.hard_timeout == 5
    assert msg.priority == BLOCK_PRIORITY and msg.table_id == POLICY_TABLE
    wire(msg)


def test_rate_limit_is_a_meter_and_a_metered_flow():
    meter, flow = action_messages(
        RateLimit(src="10.0.0.1", kbps=800), datapath(), {}, meter=(4, True)
    )
    assert meter.meter_id == 4 and meter.bands[0].rate == 800 and meter.command == ofp.OFPMC_ADD
    assert flow.instructions[0].meter_id == 4 and flow.instructions[-1].table_id == SWITCH_TABLE
    wire(meter)
    wire(flow)


def test_install_flow_mirror_and_alert():
    dp = datapath(dpid=2)
    act = InstallFlow(
        match={"eth_type": 2048, "ipv4_dst": "10.0.0.9"},
        actions=[{"type": "OUTPUT", "port": 2}],
        priority=50,
        dpid=2,
    )
    (msg,) = action_messages(act, dp, {})
    assert msg.priority == 50 and msg.instructions[0].actions[0].port == 2
    wire(msg)
    assert action_messages(InstallFlow(match={}, actions=[], dpid=3), dp, {}) == []
    assert action_messages(Mirror(to_port="s9-eth1"), dp, {"s1-eth1": 1}) == []
    assert action_messages(Alert("x"), dp, {}) == []
    with pytest.raises(TypeError):
        action_messages("block everything", dp, {})


def test_copy_flows_send_tcp_control_packets_and_a_sampled_share():
    dp = datapath()
    plain = copy_flows(dp, 0.0)
    assert {dict(m.match.items())["tcp_flags"] for m in plain} == {(1, 1), (2, 2), (4, 4)}
    assert {(m.table_id, m.instructions[-1].table_id) for m in plain} == {
        (COPY_TABLE, POLICY_TABLE)
    }
    sampled = copy_flows(dp, 0.25)
    assert sampled[3].command == ofp.OFPGC_DELETE  # a reconnecting switch keeps no old group
    group = sampled[4]
    assert group.type == ofp.OFPGT_SELECT and [b.weight for b in group.buckets] == [250, 750]
    for msg in sampled:
        wire(msg)


@pytest.mark.parametrize(
    "layer4, proto, flags, ports",
    [
        (TCP(sport=1234, dport=80, flags="SA"), "tcp", "SA", (1234, 80)),
        (TCP(flags="RA"), "tcp", "RA", (20, 80)),
        (TCP(flags="FPA"), "tcp", "FPA", (20, 80)),
        (UDP(sport=5353, dport=53), "udp", "", (5353, 53)),
        (ICMP(), "icmp", "", (0, 0)),
    ],
)
def test_packet_in_events_follow_the_published_schema(layer4, proto, flags, ports):
    frame = bytes(Ether(src=A, dst=B) / IP(src="10.0.0.1", dst="10.0.0.2") / layer4)
    event, mac = packet_event(frame, 7, 3, len(frame), 100.0)
    assert (event.kind, event.dpid, event.src, event.dst, mac) == (
        "packet_in",
        7,
        "10.0.0.1",
        "10.0.0.2",
        A,
    )
    assert event.data == {
        "proto": proto,
        "sport": ports[0],
        "dport": ports[1],
        "flags": flags,
        "len": len(frame),
        "in_port": 3,
    }
    assert is_tcp_control(event) == (proto == "tcp" and flags != "")
    assert packet_event(bytes(Ether(type=0x88CC) / (b"x" * 20)), 1, 1, 34, 0.0) is None
    assert tcp_flag_string(0x12) == "SA"


def test_ryu_names_resolve_onto_os_ken_in_the_controller_process_only():
    code = """
from taplab.controllers import ryu_shim
ryu_shim.install()
from ryu.base import app_manager
from ryu.controller import ofp_event
from ryu.controller.handler import MAIN_DISPATCHER, set_ev_cls
from ryu.ofproto import ofproto_v1_3
from ryu.lib.packet import packet, ethernet
from ryu.lib import hub
import os_ken.base.app_manager, os_ken.controller.ofp_event
import ryu.app.simple_switch_13 as s13, ryu.app.simple_monitor_13 as m13
assert app_manager is os_ken.base.app_manager
assert app_manager.RyuApp is app_manager.OSKenApp
assert ofp_event is os_ken.controller.ofp_event
assert app_manager.__spec__.name == "os_ken.base.app_manager"
assert s13.__name__ == "taplab.controllers.simple_switch_13"
assert issubclass(m13.SimpleMonitor13, s13.SimpleSwitch13)
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr
    plain = subprocess.run([sys.executable, "-c", "import ryu"], capture_output=True, text=True)
    assert "No module named 'ryu'" in plain.stderr
