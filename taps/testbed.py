"""The small lab the tap tests and ``taplab bench taps`` run on::

    client 10.0.0.1 ---+
    server 10.0.0.2 ---+-- s1 (Linux bridge br0 10.0.0.254, in its own namespace)
    collector 10.0.0.9 +

Pods are Mininet hosts with one veth each; the host side of each veth is a
port of ``s1``, where the ``ebpf`` and ``xdp-flowtable`` taps attach; the
bridge has an address (like a node's ``cni0``) so that mirrors there reach
the collector. IPv6 is
off so that only the traffic an experiment sends crosses the bridge.
"""

ADDRESSES = {"client": "10.0.0.1", "server": "10.0.0.2", "collector": "10.0.0.9"}
BRIDGE_ADDRESS = "10.0.0.254/24"


def build(lab) -> dict[str, str]:
    """Add the pods, the bridge and the links to lab, start it; return the addresses."""
    switch = lab.add_switch("s1", kind="bridge")
    for name in ADDRESSES:
        lab.add_link(lab.add_host(name), switch)
    lab.start()
    switch.cmd(f"ip addr add {BRIDGE_ADDRESS} dev {switch.BRIDGE}")
    for name, addr in ADDRESSES.items():
        host = lab.node(name)
        host.setIP(f"{addr}/24", intf=host.defaultIntf())
        host.cmd("sysctl -qw net.ipv6.conf.all.disable_ipv6=1")
    return ADDRESSES
