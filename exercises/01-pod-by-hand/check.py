"""Exercise 01: a pod network by hand. Facts checked in the live lab."""

from taplab.exercises.apply import Privileges
from taplab.exercises.grading import Checklist

CHECKS = Checklist()
PRIVILEGES = Privileges(ip_enters_namespaces=True)  # ip -n configures the pods
PODS = {"pod1": "10.244.1.2/24", "pod2": "10.244.1.3/24"}


@CHECKS.check("node1 has a bridge cni0 that is up, with 10.244.1.1/24", points=2)
def bridge(lab):
    cni0 = lab.link("node1", "cni0")
    if lab.kind(cni0) != "bridge":
        return False, "node1 has no bridge called cni0 (ip link add cni0 type bridge)."
    if "UP" not in cni0["flags"]:
        return False, "cni0 exists but is down (ip link set cni0 up)."
    if "10.244.1.1/24" not in lab.addresses("node1", "cni0"):
        return (
            False,
            f"cni0 has {lab.addresses('node1', 'cni0') or 'no address'}, not 10.244.1.1/24.",
        )
    return True, "cni0 is a bridge, up, with 10.244.1.1/24."


def _pod_address(lab, pod):
    eth0 = lab.link(pod, "eth0")
    if eth0 is None:
        return False, f"{pod} has no interface eth0."
    if "UP" not in eth0["flags"]:
        return False, f"eth0 of {pod} is down."
    found = lab.addresses(pod, "eth0")
    if PODS[pod] not in found:
        return False, f"eth0 of {pod} has {found or 'no address'}, not {PODS[pod]}."
    return True, f"eth0 of {pod} is up with {PODS[pod]}."


@CHECKS.check("pod1 has eth0 up with 10.244.1.2/24")
def pod1_address(lab):
    return _pod_address(lab, "pod1")


@CHECKS.check("pod2 has eth0 up with 10.244.1.3/24")
def pod2_address(lab):
    return _pod_address(lab, "pod2")


@CHECKS.check("each pod's eth0 is a veth whose other end is a port of cni0", points=2)
def veth_on_bridge(lab):
    ports = {link["ifindex"] for link in lab.bridge_ports("node1", "cni0")}
    for pod in PODS:
        eth0 = lab.link(pod, "eth0")
        if lab.kind(eth0) != "veth":
            return False, f"eth0 of {pod} is not a veth."
        if eth0.get("link_index") not in ports:
            return False, f"the other end of {pod}'s eth0 is not a port of cni0 in node1."
    return True, "both pods hang off cni0 through a veth pair."


@CHECKS.check("each pod's default route goes via 10.244.1.1")
def default_routes(lab):
    for pod in PODS:
        gateway = lab.default_gateway(pod)
        if gateway != "10.244.1.1":
            return False, f"{pod}'s default route is via {gateway or 'nothing'}, not 10.244.1.1."
    return True, "both pods route via cni0's address."


@CHECKS.check("pod1 and pod2 ping each other")
def pods_ping(lab):
    if not lab.ping("pod1", "10.244.1.3"):
        return False, "pod1 gets no answer from pod2 (10.244.1.3)."
    if not lab.ping("pod2", "10.244.1.2"):
        return False, "pod2 gets no answer from pod1 (10.244.1.2)."
    return True, "the pods reach each other over the bridge."


@CHECKS.check("node1 forwards: pod1 reaches the outside host 192.168.0.2", points=2, hidden=True)
def forwarding(lab):
    if lab.sysctl("node1", "net.ipv4.ip_forward") != "1":
        return False, "node1 does not forward IPv4 (net.ipv4.ip_forward is 0)."
    if not lab.ping("pod1", "192.168.0.2"):
        return False, "pod1 gets no answer from 192.168.0.2 through node1."
    return True, "pod1 reaches the host outside through node1."
