"""The lambda server as an os-ken app: OpenFlow events in, lambda actions out.

On each switch it installs the packet copies of ``policy.copy_flows``; packet-ins
become ``packet_in`` events, polled flow and port statistics become
``flow_stats`` / ``port_stats`` events (only while a lambda wants them), and
actions become policy-table messages on every connected switch. The HTTP API
(``lambda_api``) and the telemetry receiver run in the same process.
"""

import os
import signal
import time
from pathlib import Path

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import (
    CONFIG_DISPATCHER,
    DEAD_DISPATCHER,
    MAIN_DISPATCHER,
    set_ev_cls,
)
from os_ken.lib import hub
from os_ken.ofproto import ofproto_v1_3

from taplab.controllers import settings
from taplab.controllers.lambda_api import ApiServer
from taplab.controllers.lambda_server import LambdaServer
from taplab.controllers.packets import is_tcp_control, packet_event
from taplab.controllers.pipeline import SWITCH_TABLE, send_all
from taplab.controllers.policy import action_messages, copy_flows
from taplab.lambdas import RateLimit

MIN_POLL = 1.0


class LambdaServerApp(app_manager.OSKenApp):
    """Feeds lambdas with network events and applies their actions."""

    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.settings = settings.current()
        self.datapaths: dict[int, object] = {}
        self.ports: dict[int, dict[str, int]] = {}
        self.meters: dict[str, int] = {}
        self.server = LambdaServer(self.settings, self.apply)
        self.server.start()
        for failure in self.server.reload():
            self.logger.error("lambda not reloaded: %s", failure)
        token = Path(self.settings.token_file).read_text().strip()
        self.api = ApiServer(self.settings.api_port, token, self.server)
        self.api.start()
        self.poller = hub.spawn(self._poll)
        signal.signal(signal.SIGTERM, self._terminate)

    def _terminate(self, signum, _frame) -> None:
        """Stopped by the lab: the lambda workers and their descendants go first."""
        self.server.close()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def switch_features(self, ev) -> None:
        dp = ev.msg.datapath
        send_all(dp, copy_flows(dp, self.settings.sample_rate))
        dp.send_msg(dp.ofproto_parser.OFPPortDescStatsRequest(dp, 0))

    @set_ev_cls(ofp_event.EventOFPStateChange, [MAIN_DISPATCHER, DEAD_DISPATCHER])
    def state_change(self, ev) -> None:
        dp = ev.datapath
        if dp.id is None:
            return
        if ev.state == MAIN_DISPATCHER:
            self.datapaths[dp.id] = dp
            self.server.topology.add_switch(dp.id)
        else:
            self.datapaths.pop(dp.id, None)
            self.server.topology.remove_switch(dp.id)

    @set_ev_cls(ofp_event.EventOFPPortDescStatsReply, MAIN_DISPATCHER)
    def port_desc(self, ev) -> None:
        self.ports[ev.msg.datapath.id] = {p.name.decode(): p.port_no for p in ev.msg.body}

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def packet_in(self, ev) -> None:
        msg = ev.msg
        found = packet_event(
            msg.data, msg.datapath.id, msg.match["in_port"], msg.total_len, time.time()
        )
        if found is None:
            return
        event, mac = found
        if msg.table_id == SWITCH_TABLE and (self.settings.sample_rate or is_tcp_control(event)):
            return  # a table-1 miss that the policy table copies (or samples) already
        if event.src not in self.server.topology:
            self.server.topology.add_host(event.src, mac, event.dpid, event.data["in_port"])
        self.server.post(event.kind, event.dpid, event.src, event.dst, event.data, event.time)

    def apply(self, action) -> dict:
        """Send an action's messages to every connected switch; say what was done."""
        meter = (0, False)
        if isinstance(action, RateLimit):
            new = action.src not in self.meters
            self.meters.setdefault(action.src, len(self.meters) + 1)
            meter = (self.meters[action.src], new)
        sent = {}
        for dpid, dp in list(self.datapaths.items()):
            msgs = action_messages(action, dp, self.ports.get(dpid, {}), meter)
            send_all(dp, msgs)
            if msgs:
                sent[f"{dpid:016x}"] = len(msgs)
        return {"switches": sent}

    def _poll(self) -> None:
        while True:
            hub.sleep(max(self.settings.poll_interval, MIN_POLL))
            flows, ports = self.server.wants("flow_stats"), self.server.wants("port_stats")
            for dp in list(self.datapaths.values()):
                parser, ofp = dp.ofproto_parser, dp.ofproto
                if flows:
                    dp.send_msg(parser.OFPFlowStatsRequest(dp, 0, ofp.OFPTT_ALL))
                if ports:
                    dp.send_msg(parser.OFPPortStatsRequest(dp, 0, ofp.OFPP_ANY))

    @set_ev_cls(ofp_event.EventOFPFlowStatsReply, MAIN_DISPATCHER)
    def flow_stats(self, ev) -> None:
        dpid, now = ev.msg.datapath.id, time.time()
        for s in ev.msg.body:
            match = dict(s.match.items())
            self.server.post(
                "flow_stats",
                dpid,
                match.get("ipv4_src"),
                match.get("ipv4_dst"),
                {
                    "table_id": s.table_id,
                    "priority": s.priority,
                    "match": match,
                    "packets": s.packet_count,
                    "bytes": s.byte_count,
                    "duration": s.duration_sec,
                    "idle_timeout": s.idle_timeout,
                    "hard_timeout": s.hard_timeout,
                },
                now,
            )

    @set_ev_cls(ofp_event.EventOFPPortStatsReply, MAIN_DISPATCHER)
    def port_stats(self, ev) -> None:
        dpid, now = ev.msg.datapath.id, time.time()
        names = {no: name for name, no in self.ports.get(dpid, {}).items()}
        for s in ev.msg.body:
            self.server.post(
                "port_stats",
                dpid,
                None,
                None,
                {
                    "port_no": s.port_no,
                    "name": names.get(s.port_no),
                    "rx_packets": s.rx_packets,
                    "tx_packets": s.tx_packets,
                    "rx_bytes": s.rx_bytes,
                    "tx_bytes": s.tx_bytes,
                    "rx_dropped": s.rx_dropped,
                    "tx_dropped": s.tx_dropped,
                    "rx_errors": s.rx_errors,
                    "tx_errors": s.tx_errors,
                },
                now,
            )
