"""Exercise 02's starting lab: two nodes on an underlay, a bridge and a pod on each.

    pod1 10.0.42.1/24                                         pod2 10.0.42.2/24
      |                                                          |
    node1 [br0]  eth0 192.168.0.1 ------------ 192.168.0.2 eth0  [br0] node2

The pods share a subnet but the underlay does not carry it: the student joins
the two bridges with a VXLAN tunnel (VNI 42, UDP 4789) and fixes the MTU.
"""

REQUIRES = ("vxlan", "tcpdump")


def build(lab) -> None:
    node1, node2 = lab.add_host("node1"), lab.add_host("node2")
    lab.add_link(node1, node2, intfName1="eth0", intfName2="eth0")
    pods = []
    for i, node in ((1, node1), (2, node2)):
        pod = lab.add_host(f"pod{i}")
        lab.add_link(pod, node, intfName1="eth0", intfName2=f"veth-pod{i}")
        pods.append(pod)
    lab.start()
    for i, (node, pod) in enumerate(((node1, pods[0]), (node2, pods[1])), start=1):
        node.setIP(f"192.168.0.{i}/24", intf="eth0")
        node.cmd("ip link add br0 type bridge && ip link set br0 up")
        node.cmd(f"ip link set veth-pod{i} master br0 up")
        pod.setIP(f"10.0.42.{i}/24", intf="eth0")
