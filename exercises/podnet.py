"""The pod network most exercise labs start from: pods on a node's ``cni0`` bridge.

pods = add_pods(lab, node1, {"pod1": "10.244.1.2", "pod2": "10.244.1.3"})
lab.start()
wire_pods(node1, pods)

or, for a lab of node1 and its pods alone, ``one_node(lab, {...})``.

pod1 10.244.1.2   pod2 10.244.1.3
     |                |
  veth-pod1  cni0 10.244.1.1  veth-pod2      (in node1)
"""

GATEWAY = "10.244.1.1"


def add_pods(lab, node, pods: dict[str, str]) -> dict:
    """Pod hosts linked to node (before ``lab.start()``): name -> (host, address)."""
    added = {}
    for i, (name, address) in enumerate(pods.items(), start=1):
        pod = lab.add_host(name)
        lab.add_link(pod, node, intfName1="eth0", intfName2=f"veth-pod{i}")
        added[name] = (pod, address)
    return added


def wire_pods(node, pods: dict) -> None:
    """After start: the cni0 bridge with the gateway, pod addresses and default routes."""
    node.cmd("ip link add cni0 type bridge && ip link set cni0 up")
    node.cmd(f"ip addr add {GATEWAY}/24 dev cni0")
    for i, (pod, address) in enumerate(pods.values(), start=1):
        node.cmd(f"ip link set veth-pod{i} master cni0 up")
        pod.setIP(f"{address}/24", intf="eth0")
        pod.cmd(f"ip route add default via {GATEWAY}")


def one_node(lab, pods: dict[str, str]) -> dict:
    """A lab of node1 and these pods on its cni0, started: name -> (host, address)."""
    node1 = lab.add_host("node1")
    added = add_pods(lab, node1, pods)
    lab.start()
    wire_pods(node1, added)
    return added
