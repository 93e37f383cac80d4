"""Exercise 08's starting lab: a client pod and a server pod on node1's bridge.

pod1 10.244.1.2 (client)   pod2 10.244.1.3 (server)
           \\                 /
  veth-pod1 cni0 10.244.1.1 veth-pod2     node1 (the tap goes on veth-pod2)
"""

from taplab.exercises.podnet import one_node

REQUIRES = ("tc_bpf", "bcc", "iperf3")
PODS = {"pod1": "10.244.1.2", "pod2": "10.244.1.3"}


def build(lab) -> None:
    one_node(lab, PODS)
