"""Exercise 03's starting lab: the spine-leaf fabric of the VXLAN-over-GRE homework,
routed, with two VTEP namespaces and their tenants, but no tunnels yet.

                      spine1
       10.0.1.0/24   /    \\   10.0.2.0/24
                 leaf1      leaf2
       10.1.1.0/24  |        |  10.1.2.0/24
                 vtep1      vtep2         (bridge br0 in each)
                    |        |
         h1 192.168.42.1    h2 192.168.42.2

In each link network the first-named end has .1, the other .2 (leaf1 is 10.0.1.2
towards spine1 and 10.1.1.1 towards vtep1).
"""

from taplab.topologies import routed

REQUIRES = ("gre", "vxlan", "tcpdump")
ROUTERS = ("spine1", "leaf1", "leaf2", "vtep1", "vtep2")
LINKS = [
    {"a": "spine1", "b": "leaf1", "cidr": "10.0.1.0/24"},
    {"a": "spine1", "b": "leaf2", "cidr": "10.0.2.0/24"},
    {"a": "leaf1", "b": "vtep1", "cidr": "10.1.1.0/24"},
    {"a": "leaf2", "b": "vtep2", "cidr": "10.1.2.0/24"},
]


def build(lab) -> None:
    hosts = {name: lab.add_host(name) for name in ROUTERS}
    for host in hosts.values():
        host.cmd("sysctl -qw net.ipv4.ip_forward=1")
    addressed = routed.add_links(lab, hosts, LINKS)
    routed.install_routes(hosts, routed.static_routes(LINKS, addressed))
    tenants = {}
    for i in (1, 2):
        vtep = hosts[f"vtep{i}"]
        tenants[i] = lab.add_host(f"h{i}")
        lab.add_link(tenants[i], vtep, intfName1="eth0", intfName2="tenant")
    lab.start()
    for i, tenant in tenants.items():
        vtep = hosts[f"vtep{i}"]
        vtep.cmd("ip link add br0 type bridge stp_state 0 && ip link set br0 up")
        vtep.cmd("ip link set tenant master br0 up")
        tenant.setIP(f"192.168.42.{i}/24", intf="eth0")
