"""Exercise 10's starting lab: a web server, a client and an attacker on an OpenFlow
switch run by taplab's controller (learning switch + lambda server).

    client 10.0.0.20    attacker 10.0.0.66    web 10.0.0.10:80 (answers "web")
            \\                 |                  /
             s1 (Open vSwitch; SYN, RST and FIN are copied to the lambda server)
"""

from taplab.exercises.switch_lab import hosts_on_switch
from taplab.exercises.webservers import serve_names

REQUIRES = ("ovs_user", "hping3")
CONTROLLER_APPS: list[str] = []  # taplab's default apps: learning switch and lambdas
HOSTS = {"web": "10.0.0.10", "client": "10.0.0.20", "attacker": "10.0.0.66"}


def build(lab) -> None:
    hosts_on_switch(lab, HOSTS)
    serve_names(lab, {"web": 80})
