"""Exercise 07's starting lab: client, server and collector pods on node1's bridge.

pod1 10.244.1.2 (client, gets the sidecar)   pod2 10.244.1.3 (server)
pod3 10.244.1.4 (collector: receives VXLAN on UDP 4789 and drops it quietly)
              all on cni0 10.244.1.1 in node1
"""

from taplab.exercises.podnet import one_node

REQUIRES = ("tcpdump", "iptables", "iperf3")
PODS = {"pod1": "10.244.1.2", "pod2": "10.244.1.3", "pod3": "10.244.1.4"}


def build(lab) -> None:
    pods = one_node(lab, PODS)
    # No ICMP "port unreachable" for each copy (they would be copied again).
    pods["pod3"][0].cmd("iptables -A INPUT -p udp --dport 4789 -j DROP")
