"""Exercise 06's starting lab: two hosts and a monitor on an OpenFlow switch whose
controller is not running yet (fail mode secure: nothing forwards).

    h1 10.0.0.1 (port 1)   h2 10.0.0.2 (port 2)   monitor 10.0.0.3 (port 3)
              \\                  |                  /
               s1 (Open vSwitch, OpenFlow 1.3)
"""

REQUIRES = ("ovs_user", "tcpdump")
HOSTS = {"h1": "10.0.0.1", "h2": "10.0.0.2", "monitor": "10.0.0.3"}


def build(lab) -> None:
    s1 = lab.add_switch("s1", kind="ovs", failMode="secure")
    hosts = {name: lab.add_host(name) for name in HOSTS}
    for host in hosts.values():
        lab.add_link(host, s1, intfName1="eth0")  # ports 1, 2, 3 in this order
    lab.start()
    for name, host in hosts.items():
        host.setIP(f"{HOSTS[name]}/24", intf="eth0")
    lab.set_meta(switch=s1.name)
