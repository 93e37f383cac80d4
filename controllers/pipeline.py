"""taplab's OpenFlow 1.3 pipeline and the message builders every app shares.

Table 0 (COPY_TABLE): copies to the controller for lambdas (TCP control
packets, sampled flows), then on to table 1. Table 1 (POLICY_TABLE): what
lambdas and the mirror app install (drops, meters, mirrors, flows), going on to
table 2. Table 2 (SWITCH_TABLE): the learning switch. Each table's miss entry
goes to the next one, so a copy is made whatever the policy does. Ryu-compatible
apps (``ryu.app.simple_switch_13``) use table 0 alone.
Builders return messages; ``send_all`` is the only place that sends them.
"""

from collections.abc import Iterable, Sequence

COPY_TABLE = 0
POLICY_TABLE = 1
SWITCH_TABLE = 2


def flow(
    dp,
    match: dict | None = None,
    actions: Sequence = (),
    table: int = POLICY_TABLE,
    priority: int = 0,
    idle: int = 0,
    hard: int = 0,
    goto: int | None = None,
    meter: int | None = None,
    command: int | None = None,
    buffer_id: int | None = None,
):
    """An OFPFlowMod: apply actions, then optionally meter and goto another table.

    No actions and no goto means drop.
    """
    ofp, parser = dp.ofproto, dp.ofproto_parser
    inst = []
    if meter is not None:
        inst.append(parser.OFPInstructionMeter(meter, ofp.OFPIT_METER))
    if actions:
        inst.append(parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, list(actions)))
    if goto is not None:
        inst.append(parser.OFPInstructionGotoTable(goto))
    return parser.OFPFlowMod(
        datapath=dp,
        table_id=table,
        priority=priority,
        match=parser.OFPMatch(**(match or {})),
        instructions=inst,
        idle_timeout=idle,
        hard_timeout=hard,
        command=ofp.OFPFC_ADD if command is None else command,
        buffer_id=ofp.OFP_NO_BUFFER if buffer_id is None else buffer_id,
    )


def to_controller(dp, max_len: int | None = None):
    """An output action to the controller (whole packet unless max_len)."""
    ofp = dp.ofproto
    return dp.ofproto_parser.OFPActionOutput(
        ofp.OFPP_CONTROLLER, ofp.OFPCML_NO_BUFFER if max_len is None else max_len
    )


def packet_out(dp, msg, actions: Sequence):
    """Send a packet-in's packet back out with actions (by buffer id or with its data)."""
    ofp = dp.ofproto
    data = msg.data if msg.buffer_id == ofp.OFP_NO_BUFFER else None
    return dp.ofproto_parser.OFPPacketOut(
        datapath=dp,
        buffer_id=msg.buffer_id,
        in_port=msg.match["in_port"],
        actions=list(actions),
        data=data,
    )


def ipv4_match(src: str | None = None, dst: str | None = None, **extra) -> dict:
    """Match fields for IPv4 traffic from src and/or to dst."""
    match = {"eth_type": 0x0800, **extra}
    if src:
        match["ipv4_src"] = src
    if dst:
        match["ipv4_dst"] = dst
    return match


def send_all(dp, msgs: Iterable) -> None:
    """The thin I/O layer: send what the logic returned."""
    for msg in msgs:
        dp.send_msg(msg)
