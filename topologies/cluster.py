"""The ``cluster`` topology: Kubernetes-like nodes with a CNI bridge and pods.

One node, two pods (the default)::

      pod1 10.244.1.2      pod2 10.244.1.3
         \\                 /
          +--- cni0 (10.244.1.1, in node1's namespace)
"""

from mininet.link import Intf
from taplab.topologies.registry import topology


def pod_cidr(node_index: int) -> str:
    return f"10.244.{node_index}.0/24"


def add_node(lab, index: int, pods: int) -> list:
    """A node (a router host) with a ``cni0`` bridge and its pods."""
    node = lab.add_host(f"node{index}")
    node.cmd("sysctl -qw net.ipv4.ip_forward=1")
    node.cmd("ip link add cni0 type bridge && ip link set cni0 up")
    # Register the bridge as the node's default interface so `node1 ping pod2` works;
    # it already lives in the node's namespace, so Mininet must not move it.
    Intf("cni0", node=node, moveIntfFn=lambda *_: True)
    node.setIP(f"10.244.{index}.1/24", intf="cni0")
    added = []
    for j in range(1, pods + 1):
        pod = lab.add_host(f"pod{(index - 1) * pods + j}")
        link = lab.add_link(pod, node)
        node.cmd(f"ip link set {link.intf2} master cni0 up")
        pod.setIP(f"10.244.{index}.{j + 1}/24", intf=link.intf1)
        pod.cmd(f"ip route add default via 10.244.{index}.1")
        added.append(pod)
    return added


@topology("cluster")
def build(lab, pods: int = 2) -> None:
    """One node with a CNI bridge and ``pods`` pods."""
    add_node(lab, 1, pods)
    lab.start()
