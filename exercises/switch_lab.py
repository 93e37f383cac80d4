"""Exercise labs of hosts on one Open vSwitch switch, ``s1``.

    s1, hosts = hosts_on_switch(lab, {"h1": "10.0.0.1", "h2": "10.0.0.2"}, failMode="secure")

Hosts are linked in the given order (OpenFlow ports 1, 2, ...), each with eth0
at its /24 address and transmit checksum offload off: OVS's userspace datapath
forwards partial checksums as they are, so the hosts compute them.
"""


def hosts_on_switch(lab, addresses: dict[str, str], **switch_options):
    """Build and start the lab; return the switch and the hosts by name."""
    s1 = lab.add_switch("s1", kind="ovs", **switch_options)
    hosts = {name: lab.add_host(name) for name in addresses}
    for host in hosts.values():
        lab.add_link(host, s1, intfName1="eth0")
    lab.start()
    for name, host in hosts.items():
        host.setIP(f"{addresses[name]}/24", intf="eth0")
        host.cmd("ethtool -K eth0 tx off")
    lab.set_meta(switch=s1.name)
    return s1, hosts
