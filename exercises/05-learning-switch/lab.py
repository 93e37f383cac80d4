"""Exercise 05's starting lab: three hosts on an OpenFlow switch without a controller.

    h1 10.0.0.1    h2 10.0.0.2    h3 10.0.0.3
         \\            |            /
          s1 (Open vSwitch, OpenFlow 1.3, fail mode secure: no controller, no traffic)
"""

REQUIRES = ("ovs_user",)
HOSTS = {"h1": "10.0.0.1", "h2": "10.0.0.2", "h3": "10.0.0.3"}


def build(lab) -> None:
    s1 = lab.add_switch("s1", kind="ovs", failMode="secure")
    hosts = {name: lab.add_host(name) for name in HOSTS}
    for host in hosts.values():
        lab.add_link(host, s1, intfName1="eth0")
    lab.start()
    for name, host in hosts.items():
        host.setIP(f"{HOSTS[name]}/24", intf="eth0")
    lab.set_meta(switch=s1.name)
