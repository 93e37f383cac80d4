"""What ``ryu.app.simple_switch_13`` names: an OpenFlow 1.3 learning switch in table 0."""

from taplab.controllers.learning_switch import LearningSwitchApp


class SimpleSwitch13(LearningSwitchApp):
    """The learning switch alone in table 0, as Ryu's tutorial app behaves."""

    TABLE = 0
