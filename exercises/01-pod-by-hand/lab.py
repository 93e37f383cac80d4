"""Exercise 01's starting lab: a node and two empty pod namespaces, and a host outside.

pod1 (empty)   pod2 (empty)
                              node1 eth0 192.168.0.1 ---- 192.168.0.2 eth0 ext
"""

REQUIRES = ()


def build(lab) -> None:
    node1, ext = lab.add_host("node1"), lab.add_host("ext")
    lab.add_host("pod1")
    lab.add_host("pod2")
    lab.add_link(node1, ext, intfName1="eth0", intfName2="eth0")
    lab.start()
    node1.setIP("192.168.0.1/24", intf="eth0")
    ext.setIP("192.168.0.2/24", intf="eth0")
    ext.cmd("ip route add 10.244.1.0/24 via 192.168.0.1")
