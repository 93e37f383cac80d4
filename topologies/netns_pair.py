"""The ``netns-pair`` topology: the eBPF report's baseline, pure IPv6 L3, no bridge.

Two hosts on one link; each host has a container namespace on a veth pair.
Containers have a /128 address, a default route to the link-local ``fe80::1``
of their host's veth, and permanent neighbour entries both ways; hosts route
each remote container's /128 via the other host::

    ctr1 fd00:1::1/128 --veth-- host1 ==fd00:12::/64== host2 --veth-- ctr2 fd00:2::1/128

Containers are the file's ``pods`` of each host; a container's address is the
next address of its host's ``cidr``. IPv6 only: use ``ping -6``/``ping6``
(Mininet's ``pingall`` speaks IPv4).
"""

import ipaddress

from taplab.errors import UserError
from taplab.topologies import routed
from taplab.topologies.registry import topology

GATEWAY = "fe80::1"


def _no_dad(host) -> None:
    host.cmd(
        "sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 "
        "net.ipv6.conf.all.forwarding=1"
    )


@topology("netns-pair")
def build(lab, spec: dict) -> None:
    for node in spec["nodes"]:
        if ipaddress.ip_network(node.get("cidr", "::/128")).version != 6:
            raise UserError(f"netns-pair: node {node['name']} needs an IPv6 cidr.")
    hosts = {}
    for node in spec["nodes"]:
        hosts[node["name"]] = lab.add_host(node["name"])
        _no_dad(hosts[node["name"]])
    addressed = routed.add_links(lab, hosts, spec["links"])
    containers: dict[str, tuple[str, str]] = {}  # container -> (host, address)
    for node in spec["nodes"]:
        host, addresses = hosts[node["name"]], ipaddress.ip_network(node["cidr"]).hosts()
        for name in node["pods"]:
            ctr = lab.add_host(name)
            _no_dad(ctr)
            link = lab.add_link(ctr, host)
            ip = str(next(addresses))
            _pair(ctr, link.intf1, host, link.intf2, ip)
            containers[name] = (node["name"], ip)
    for home, ip in containers.values():
        for host_name, host in hosts.items():
            if host_name != home:
                via = addressed.address(home, host_name)
                intf = addressed.ports[host_name][home][2]
                mac = hosts[home].intf(addressed.ports[home][host_name][2]).MAC()
                host.cmd(
                    f"ip -6 neigh replace {via} lladdr {mac} dev {intf} nud permanent && "
                    f"ip -6 route replace {ip}/128 via {via} dev {intf}"
                )
    lab.start()
    lab.set_meta(pods={n: {"node": h, "ip": ip} for n, (h, ip) in containers.items()})


def _pair(ctr, ctr_intf, host, host_intf, ip: str) -> None:
    """L3 veth: /128 in the container, fe80::1 on the host side, static neighbours."""
    ctr_mac, host_mac = ctr_intf.MAC(), host_intf.MAC()
    host.cmd(
        f"ip link set {host_intf} up && ip addr add {GATEWAY}/64 dev {host_intf} nodad && "
        f"ip -6 neigh replace {ip} lladdr {ctr_mac} dev {host_intf} nud permanent && "
        f"ip -6 route replace {ip}/128 dev {host_intf}"
    )
    ctr.cmd(
        f"ip link set {ctr_intf} up && ip addr add {ip}/128 dev {ctr_intf} nodad && "
        f"ip -6 neigh replace {GATEWAY} lladdr {host_mac} dev {ctr_intf} nud permanent && "
        f"ip -6 route replace default via {GATEWAY} dev {ctr_intf}"
    )
