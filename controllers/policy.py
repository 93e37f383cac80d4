"""What the lambda server puts in the policy table, as OpenFlow messages (sends nothing).

- copies of TCP control packets (SYN, RST, FIN set) to the controller, and of a
  sampled share of IPv4 flows (a select group: per flow, not per packet);
- the OpenFlow form of lambda actions: ``Block`` (drop with a hard timeout),
  ``RateLimit`` (a meter), ``Mirror`` (output to a port), ``InstallFlow``.
"""

from os_ken.lib import ofctl_v1_3

from taplab.controllers.mirror import mirror_flow, resolve_port
from taplab.controllers.pipeline import (
    COPY_TABLE,
    POLICY_TABLE,
    SWITCH_TABLE,
    flow,
    ipv4_match,
    to_controller,
)
from taplab.lambdas import Alert, Block, InstallFlow, Mirror, RateLimit

BLOCK_PRIORITY = 1000
RATE_PRIORITY = 900
COPY_PRIORITY = 400
SAMPLE_PRIORITY = 100
SAMPLE_GROUP = 1
TCP_CONTROL = {"FIN": 0x01, "SYN": 0x02, "RST": 0x04}
COPY_BYTES = 128
WEIGHTS = 1000


def copy_flows(dp, sample_rate: float = 0.0) -> list:
    """Flows copying TCP control packets (and sampled IPv4 flows) to the controller."""
    copy = [to_controller(dp, COPY_BYTES)]
    msgs = [
        flow(
            dp,
            ipv4_match(ip_proto=6, tcp_flags=(bit, bit)),
            copy,
            table=COPY_TABLE,
            priority=COPY_PRIORITY,
            goto=POLICY_TABLE,
        )
        for bit in TCP_CONTROL.values()
    ]
    weight = round(min(max(sample_rate, 0.0), 1.0) * WEIGHTS)
    if weight:
        ofp, parser = dp.ofproto, dp.ofproto_parser
        buckets = [parser.OFPBucket(weight, ofp.OFPP_ANY, ofp.OFPG_ANY, copy)]
        if weight < WEIGHTS:
            buckets.append(parser.OFPBucket(WEIGHTS - weight, ofp.OFPP_ANY, ofp.OFPG_ANY, []))
        msgs.append(parser.OFPGroupMod(dp, ofp.OFPGC_DELETE, 0, SAMPLE_GROUP))  # reconnects
        msgs.append(parser.OFPGroupMod(dp, ofp.OFPGC_ADD, ofp.OFPGT_SELECT, SAMPLE_GROUP, buckets))
        msgs.append(
            flow(
                dp,
                ipv4_match(),
                [parser.OFPActionGroup(SAMPLE_GROUP)],
                table=COPY_TABLE,
                priority=SAMPLE_PRIORITY,
                goto=POLICY_TABLE,
            )
        )
    return msgs


def meter_mod(dp, meter_id: int, kbps: int, new: bool = True):
    ofp, parser = dp.ofproto, dp.ofproto_parser
    return parser.OFPMeterMod(
        dp,
        ofp.OFPMC_ADD if new else ofp.OFPMC_MODIFY,
        ofp.OFPMF_KBPS,
        meter_id,
        [parser.OFPMeterBandDrop(rate=kbps, burst_size=0)],
    )


def action_messages(action, dp, ports: dict[str, int], meter: tuple[int, bool] = (1, True)) -> list:
    """The messages for one lambda action on one switch ([] when it does not apply there).

    meter: (meter id, whether it is new) for a RateLimit.
    """
    if isinstance(action, Block):
        return [
            flow(
                dp, ipv4_match(action.src, action.dst), priority=BLOCK_PRIORITY, hard=action.seconds
            )
        ]
    if isinstance(action, RateLimit):
        meter_id, new = meter
        return [
            meter_mod(dp, meter_id, action.kbps, new),
            flow(
                dp,
                ipv4_match(action.src),
                priority=RATE_PRIORITY,
                hard=action.seconds,
                meter=meter_id,
                goto=SWITCH_TABLE,
            ),
        ]
    if isinstance(action, Mirror):
        port = resolve_port(ports, action.to_port)
        if port is None:
            return []
        match = ipv4_match(action.src, action.dst) if action.src or action.dst else {}
        return [mirror_flow(dp, port, match, hard=action.seconds)]
    if isinstance(action, InstallFlow):
        if action.dpid not in (None, dp.id):
            return []
        parser = dp.ofproto_parser
        return [
            parser.OFPFlowMod(
                datapath=dp,
                table_id=POLICY_TABLE,
                priority=action.priority,
                match=ofctl_v1_3.to_match(dp, dict(action.match)),
                instructions=ofctl_v1_3.to_actions(dp, list(action.actions)),
                idle_timeout=action.idle_timeout,
                hard_timeout=action.hard_timeout,
            )
        ]
    if isinstance(action, Alert):
        return []
    raise TypeError(f"not a lambda action: {action!r}")
