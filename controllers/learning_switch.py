"""taplab's learning switch app (table 2, behind the copy and policy tables of lambdas)."""

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from os_ken.ofproto import ofproto_v1_3

from taplab.controllers.learning import LearningSwitch
from taplab.controllers.pipeline import SWITCH_TABLE, send_all


class LearningSwitchApp(app_manager.OSKenApp):
    """Thin I/O around LearningSwitch: events in, the logic's messages out."""

    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]
    TABLE = SWITCH_TABLE

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.logic = LearningSwitch(table=self.TABLE)

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def switch_features(self, ev) -> None:
        send_all(ev.msg.datapath, self.logic.connected(ev.msg.datapath))

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def packet_in(self, ev) -> None:
        send_all(ev.msg.datapath, self.logic.packet_in(ev.msg.datapath, ev.msg))
