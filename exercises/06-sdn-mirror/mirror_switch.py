# controller app
"""Exercise 06: an SDN mirror tap in the Ryu API (OpenFlow 1.3).

The learning switch (Ryu's simple_switch_13) moves to table 1; table 0 copies
every packet h1 sends (it enters on port 1) to the monitor's port 3, then hands
all packets on to table 1.
Load it: sudo taplab exercise run 06 mirror_switch.py
"""

from ryu.app.simple_switch_13 import SimpleSwitch13
from ryu.controller import ofp_event
from ryu.controller.handler import CONFIG_DISPATCHER, set_ev_cls

MIRRORED_PORT, MONITOR_PORT = 1, 3
SWITCH_TABLE = 1


class MirrorSwitch(SimpleSwitch13):
    TABLE = SWITCH_TABLE  # the learning switch's flows go to table 1

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def mirror(self, ev):
        dp = ev.msg.datapath
        parser = dp.ofproto_parser
        on_to_switch = parser.OFPInstructionGotoTable(SWITCH_TABLE)
        dp.send_msg(
            parser.OFPFlowMod(
                datapath=dp,
                table_id=0,
                priority=0,
                match=parser.OFPMatch(),
                instructions=[on_to_switch],
            )
        )
        # TODO: a table-0 flow of priority 100 matching in_port=MIRRORED_PORT whose
        #       instructions first output the packet to MONITOR_PORT
        #       (OFPInstructionActions with OFPIT_APPLY_ACTIONS and OFPActionOutput),
        #       then go on to the switch table (on_to_switch).
