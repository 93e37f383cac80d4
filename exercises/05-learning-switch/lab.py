"""Exercise 05's starting lab: three hosts on an OpenFlow switch without a controller.

h1 10.0.0.1    h2 10.0.0.2    h3 10.0.0.3
     \\            |            /
      s1 (Open vSwitch, OpenFlow 1.3, fail mode secure: no controller, no traffic)
"""

from taplab.exercises.switch_lab import hosts_on_switch

REQUIRES = ("ovs_user",)
HOSTS = {"h1": "10.0.0.1", "h2": "10.0.0.2", "h3": "10.0.0.3"}


def build(lab) -> None:
    hosts_on_switch(lab, HOSTS, failMode="secure")
