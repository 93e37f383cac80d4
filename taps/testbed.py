"""The small lab the tap tests and ``taplab bench taps`` run on::

    client 10.0.0.1 ---+
    server 10.0.0.2 ---+-- s1 (Linux bridge br0 10.0.0.254, in its own namespace)
    collector 10.0.0.9 +

Pods are Mininet hosts with one veth each; the host side of each veth is a
port of ``s1``, where the ``ebpf`` and ``xdp-flowtable`` taps attach; the
bridge has an address (like a node's ``cni0``) so that mirrors there reach
the collector. IPv6 is off, neighbours and the bridge's forwarding entries are
static (no ARP, no flooding) so that only the traffic an experiment sends
crosses the bridge, and only towards its destination.
"""

ADDRESSES = {"client": "10.0.0.1", "server": "10.0.0.2", "collector": "10.0.0.9"}
BRIDGE_ADDRESS = "10.0.0.254/24"


def build(lab) -> dict[str, str]:
    """Add the pods, the bridge and the links to lab, start it; return the addresses."""
    switch = lab.add_switch("s1", kind="bridge")
    for name in ADDRESSES:
        lab.add_link(lab.add_host(name), switch)
    lab.start()
    hosts = [lab.node(name) for name in ADDRESSES]
    for node in [switch, *hosts]:
        node.cmd("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1")
    switch.cmd(f"ip addr add {BRIDGE_ADDRESS} dev {switch.BRIDGE}")
    for host in hosts:
        host.setIP(f"{ADDRESSES[host.name]}/24", intf=host.defaultIntf())
    ends = [(h, h.defaultIntf()) for h in hosts] + [(switch, switch.BRIDGE)]
    for node, intf in ends:
        for other, other_intf in ends:
            if other is not node:
                mac = other.cmd(f"cat /sys/class/net/{other_intf}/address").strip()
                ip = BRIDGE_ADDRESS.split("/")[0] if other is switch else ADDRESSES[other.name]
                node.cmd(f"ip neigh replace {ip} lladdr {mac} dev {intf} nud permanent")
    for host, intf in ends[:-1]:
        mac = host.cmd(f"cat /sys/class/net/{intf}/address").strip()
        port = intf.link.intf2 if intf.link.intf1 is intf else intf.link.intf1
        switch.cmd(f"bridge fdb replace {mac} dev {port} master static")
    return ADDRESSES
