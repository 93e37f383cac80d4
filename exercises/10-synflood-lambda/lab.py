"""Exercise 10's starting lab: a web server, a client and an attacker on an OpenFlow
switch run by taplab's controller (learning switch + lambda server).

    client 10.0.0.20    attacker 10.0.0.66    web 10.0.0.10:80 (answers "web")
            \\                 |                  /
             s1 (Open vSwitch; SYN, RST and FIN are copied to the lambda server)
"""

from taplab.exercises.webservers import serve_names

REQUIRES = ("ovs_user", "hping3")
CONTROLLER_APPS: list[str] = []  # taplab's default apps: learning switch and lambdas
HOSTS = {"web": "10.0.0.10", "client": "10.0.0.20", "attacker": "10.0.0.66"}


def build(lab) -> None:
    s1 = lab.add_switch("s1", kind="ovs")
    hosts = {name: lab.add_host(name) for name in HOSTS}
    for host in hosts.values():
        lab.add_link(host, s1, intfName1="eth0")
    lab.start()
    for name, host in hosts.items():
        host.setIP(f"{HOSTS[name]}/24", intf="eth0")
        # OVS's userspace datapath forwards partial checksums as they are: compute them.
        host.cmd("ethtool -K eth0 tx off")
    lab.set_meta(switch=s1.name)
    serve_names(lab, {"web": 80})
