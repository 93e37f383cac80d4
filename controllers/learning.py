"""L2 learning switch logic: returns the OpenFlow messages it wants, sends nothing.

On connect: a table-miss entry sending packets to the controller (and miss
entries passing packets on through the tables before its own). On a packet-in:
learn the source MAC's port; if the destination is known, install a flow with
an idle timeout and forward; otherwise flood.
"""

from os_ken.lib.packet import ether_types, ethernet, packet

from taplab.controllers.pipeline import flow, packet_out, to_controller


class LearningSwitch:
    """MAC learning per datapath; ``table`` is the table it owns."""

    def __init__(self, table: int = 0, idle_timeout: int = 60, priority: int = 1):
        self.table, self.idle_timeout, self.priority = table, idle_timeout, priority
        self.macs: dict[int, dict[str, int]] = {}

    def connected(self, dp) -> list:
        msgs = [flow(dp, actions=[to_controller(dp)], table=self.table)]
        msgs += [flow(dp, table=t, goto=t + 1) for t in range(self.table)]
        self.macs[dp.id] = {}
        return msgs

    def packet_in(self, dp, msg) -> list:
        if msg.table_id != self.table:
            return []  # a copy made by another table (lambda server), not a miss of ours
        eth = packet.Packet(msg.data).get_protocol(ethernet.ethernet)
        if eth is None or eth.ethertype == ether_types.ETH_TYPE_LLDP:
            return []
        ofp, parser = dp.ofproto, dp.ofproto_parser
        in_port = msg.match["in_port"]
        macs = self.macs.setdefault(dp.id, {})
        macs[eth.src] = in_port
        out_port = macs.get(eth.dst, ofp.OFPP_FLOOD)
        actions = [parser.OFPActionOutput(out_port)]
        msgs = []
        if out_port != ofp.OFPP_FLOOD:
            match = {"in_port": in_port, "eth_dst": eth.dst, "eth_src": eth.src}
            msgs.append(
                flow(
                    dp,
                    match,
                    actions,
                    table=self.table,
                    priority=self.priority,
                    idle=self.idle_timeout,
                )
            )
        msgs.append(packet_out(dp, msg, actions))
        return msgs
