"""Exercise 11's starting lab: a web server, a client and two scanners on an OpenFlow
switch run by taplab's controller (learning switch + lambda server).

    client 10.0.0.20   attacker 10.0.0.66   sneaky 10.0.0.77   web 10.0.0.10:80
           \\                |                  |                 /
            s1 (Open vSwitch; SYN, SYN-ACK, RST and FIN go to the lambda server)

web counts the SYNs sneaky sends to each of ports 20-40 (iptables counters), so
the grader can tell that a slow scan happened.
"""

from taplab.exercises.switch_lab import hosts_on_switch
from taplab.exercises.webservers import serve_names

REQUIRES = ("ovs_user", "nmap", "iptables")
CONTROLLER_APPS: list[str] = []  # taplab's default apps: learning switch and lambdas
HOSTS = {"web": "10.0.0.10", "client": "10.0.0.20", "attacker": "10.0.0.66", "sneaky": "10.0.0.77"}
COUNTED_PORTS = range(20, 41)


def build(lab) -> None:
    _, hosts = hosts_on_switch(lab, HOSTS)
    rules = "".join(
        f"-A INPUT -s {HOSTS['sneaky']}/32 -p tcp --syn --dport {port}\n" for port in COUNTED_PORTS
    )
    hosts["web"].cmd(f"printf '*filter\\n{rules}COMMIT\\n' | iptables-restore --noflush")
    serve_names(lab, {"web": 80})
