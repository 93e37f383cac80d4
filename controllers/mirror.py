"""Mirroring: copy a port's or a match's traffic to a mirror port.

``mirror_flow`` is the logic (a policy-table flow: output to the mirror port,
then on to the learning switch), shared by the mirror app and the lambda
``Mirror`` action. The app mirrors what the controller settings list::

    "mirrors": [{"to_port": "s1-eth3", "in_port": "s1-eth1"},
                {"to_port": 3, "match": {"eth_type": 2048, "ipv4_src": "10.0.0.1"}}]

Port names may leave out the lab-id prefix of OVS port names.
"""

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from os_ken.ofproto import ofproto_v1_3

from taplab.controllers import settings
from taplab.controllers.pipeline import POLICY_TABLE, SWITCH_TABLE, flow, send_all

MIRROR_PRIORITY = 800


def resolve_port(ports: dict[str, int], port: str | int) -> int | None:
    """A port number from a number, a port name, or the one name ending with it
    (``s1-eth3`` for the lab-prefixed ``t1abs1-eth3``); None if none or several."""
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    if port in ports:
        return ports[port]
    found = [no for name, no in ports.items() if name.endswith(port)]
    return found[0] if len(found) == 1 else None


def mirror_flow(dp, out_port: int, match: dict, priority: int = MIRROR_PRIORITY, hard: int = 0):
    """Copy packets matching match to out_port; they go on to the switch table."""
    return flow(
        dp,
        match,
        [dp.ofproto_parser.OFPActionOutput(out_port)],
        table=POLICY_TABLE,
        priority=priority,
        hard=hard,
        goto=SWITCH_TABLE,
    )


def mirror_messages(dp, ports: dict[str, int], mirrors: list[dict]) -> list:
    """The flows for configured mirrors that apply to this switch's ports."""
    msgs = []
    for m in mirrors:
        out_port = resolve_port(ports, m["to_port"])
        match = dict(m.get("match", {}))
        if "in_port" in m:
            match["in_port"] = resolve_port(ports, m["in_port"])
        if out_port is not None and match.get("in_port", 0) is not None:
            msgs.append(mirror_flow(dp, out_port, match))
    return msgs


class MirrorApp(app_manager.OSKenApp):
    """Installs the configured mirrors on every switch once its ports are known."""

    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.settings = settings.current()

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def switch_features(self, ev) -> None:
        dp = ev.msg.datapath
        dp.send_msg(dp.ofproto_parser.OFPPortDescStatsRequest(dp, 0))

    @set_ev_cls(ofp_event.EventOFPPortDescStatsReply, MAIN_DISPATCHER)
    def port_desc(self, ev) -> None:
        dp = ev.msg.datapath
        ports = {p.name.decode(): p.port_no for p in ev.msg.body}
        send_all(dp, mirror_messages(dp, ports, self.settings.mirrors))
