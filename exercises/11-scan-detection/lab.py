"""Exercise 11's starting lab: a web server, a client and two scanners on an OpenFlow
switch run by taplab's controller (learning switch + lambda server).

    client 10.0.0.20   attacker 10.0.0.66   sneaky 10.0.0.77   web 10.0.0.10:80
           \\                |                  |                 /
            s1 (Open vSwitch; SYN, SYN-ACK, RST and FIN go to the lambda server)

web counts the SYNs sneaky sends to each of ports 20-40 (iptables counters), so
the grader can tell that a slow scan happened.
"""

from taplab.exercises.webservers import serve_names

REQUIRES = ("ovs_user", "nmap", "iptables")
CONTROLLER_APPS: list[str] = []  # taplab's default apps: learning switch and lambdas
HOSTS = {"web": "10.0.0.10", "client": "10.0.0.20", "attacker": "10.0.0.66",
         "sneaky": "10.0.0.77"}
COUNTED_PORTS = range(20, 41)


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
    rules = "".join(f"-A INPUT -s {HOSTS['sneaky']}/32 -p tcp --syn --dport {port}\n"
                    for port in COUNTED_PORTS)
    hosts["web"].cmd(f"printf '*filter\\n{rules}COMMIT\\n' | iptables-restore --noflush")
    lab.set_meta(switch=s1.name)
    serve_names(lab, {"web": 80})
