"""What ``ryu.app.simple_monitor_13`` names: the learning switch plus stats logging.

Every 10 s it asks each connected switch for flow and port statistics and logs
them (one line per learned flow and per port).
"""

from os_ken.controller import ofp_event
from os_ken.controller.handler import DEAD_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from os_ken.lib import hub

from taplab.controllers.simple_switch_13 import SimpleSwitch13

INTERVAL = 10


class SimpleMonitor13(SimpleSwitch13):
    """Learning switch that logs flow and port counters periodically."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.datapaths: dict = {}
        self.monitor = hub.spawn(self._poll)

    @set_ev_cls(ofp_event.EventOFPStateChange, [MAIN_DISPATCHER, DEAD_DISPATCHER])
    def state_change(self, ev) -> None:
        dp = ev.datapath
        if ev.state == MAIN_DISPATCHER:
            self.datapaths[dp.id] = dp
        else:
            self.datapaths.pop(dp.id, None)

    def _poll(self) -> None:
        while True:
            for dp in list(self.datapaths.values()):
                parser = dp.ofproto_parser
                dp.send_msg(parser.OFPFlowStatsRequest(dp))
                dp.send_msg(parser.OFPPortStatsRequest(dp, 0, dp.ofproto.OFPP_ANY))
            hub.sleep(INTERVAL)

    @set_ev_cls(ofp_event.EventOFPFlowStatsReply, MAIN_DISPATCHER)
    def flow_stats(self, ev) -> None:
        for stat in sorted(
            (s for s in ev.msg.body if s.priority == self.logic.priority),
            key=lambda s: (s.match.get("in_port"), s.match.get("eth_dst")),
        ):
            self.logger.info(
                "flow dpid=%016x in_port=%s eth_dst=%s packets=%d bytes=%d",
                ev.msg.datapath.id,
                stat.match.get("in_port"),
                stat.match.get("eth_dst"),
                stat.packet_count,
                stat.byte_count,
            )

    @set_ev_cls(ofp_event.EventOFPPortStatsReply, MAIN_DISPATCHER)
    def port_stats(self, ev) -> None:
        for stat in sorted(ev.msg.body, key=lambda s: s.port_no):
            self.logger.info(
                "port dpid=%016x port=%x rx_packets=%d tx_packets=%d rx_bytes=%d tx_bytes=%d",
                ev.msg.datapath.id,
                stat.port_no,
                stat.rx_packets,
                stat.tx_packets,
                stat.rx_bytes,
                stat.tx_bytes,
            )
