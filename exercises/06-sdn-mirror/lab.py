"""Exercise 06's starting lab: two hosts and a monitor on an OpenFlow switch whose
controller is not running yet (fail mode secure: nothing forwards).

    h1 10.0.0.1 (port 1)   h2 10.0.0.2 (port 2)   monitor 10.0.0.3 (port 3)
              \\                  |                  /
               s1 (Open vSwitch, OpenFlow 1.3)
"""

from taplab.exercises.switch_lab import hosts_on_switch

REQUIRES = ("ovs_user", "tcpdump")
HOSTS = {"h1": "10.0.0.1", "h2": "10.0.0.2", "monitor": "10.0.0.3"}


def build(lab) -> None:
    hosts_on_switch(lab, HOSTS, failMode="secure")  # ports 1, 2, 3 in this order
