"""Exercise 02: a VXLAN overlay between two nodes, with MTU. Facts checked in the live lab."""

from taplab.exercises.apply import Privileges
from taplab.exercises.grading import Checklist

CHECKS = Checklist()
PRIVILEGES = Privileges(ip_enters_namespaces=True)  # ip -n sets the pods' MTU
UNDERLAY = {"node1": "192.168.0.1", "node2": "192.168.0.2"}
PEER = {"node1": "node2", "node2": "node1"}
VNI, PORT, MTU = 42, 4789, 1450


def vxlan_devices(lab, node):
    return [link for link in lab.links(node).values() if lab.kind(link) == "vxlan"]


def _tunnel(lab, node):
    devices = vxlan_devices(lab, node)
    if not devices:
        return False, f"{node} has no VXLAN device (ip link add ... type vxlan ...)."
    data = devices[0]["linkinfo"].get("info_data", {})
    if data.get("id") != VNI or data.get("port") != PORT:
        return (
            False,
            f"{devices[0]['ifname']} on {node} has VNI {data.get('id')} and "
            f"port {data.get('port')}, not VNI {VNI} and UDP port {PORT}.",
        )
    return True, f"{devices[0]['ifname']} on {node}: VNI {VNI}, UDP {PORT}."


@CHECKS.check("node1 has a VXLAN device with VNI 42 on UDP port 4789", points=2)
def node1_tunnel(lab):
    return _tunnel(lab, "node1")


@CHECKS.check("node2 has a VXLAN device with VNI 42 on UDP port 4789")
def node2_tunnel(lab):
    return _tunnel(lab, "node2")


@CHECKS.check("each VXLAN device is a port of its node's br0, and up")
def tunnel_on_bridge(lab):
    for node in UNDERLAY:
        devices = vxlan_devices(lab, node)
        if not devices or devices[0].get("master") != "br0":
            return (
                False,
                f"{node}'s VXLAN device is not a port of br0 (ip link set ... master br0).",
            )
        if "UP" not in devices[0]["flags"]:
            return False, f"{node}'s VXLAN device is down."
    return True, "both tunnel ends are bridge ports, up."


@CHECKS.check("each VXLAN device sends to the other node's underlay address")
def tunnel_remote(lab):
    for node, peer in PEER.items():
        devices = vxlan_devices(lab, node)
        if not devices:
            return False, f"{node} has no VXLAN device."
        name = devices[0]["ifname"]
        remote = devices[0]["linkinfo"].get("info_data", {}).get("remote")
        fdb = [e.get("dst") for e in lab.json(node, "bridge", "-j", "fdb", "show", "dev", name)]
        if UNDERLAY[peer] not in (remote, *fdb):
            return (
                False,
                f"{name} on {node} does not send to {peer} ({UNDERLAY[peer]}): "
                "give it 'remote' or a bridge fdb entry.",
            )
    return True, "the tunnel ends point at each other."


@CHECKS.check("pod1 pings pod2 across the overlay", points=2)
def pods_ping(lab):
    if not lab.ping("pod1", "10.0.42.2"):
        return False, "pod1 gets no answer from pod2 (10.0.42.2)."
    return True, "pod1 reaches pod2 through the tunnel."


@CHECKS.check("the pods' eth0 MTU is 1450: 1500 minus 50 bytes of VXLAN headers", points=2)
def pod_mtu(lab):
    for pod in ("pod1", "pod2"):
        mtu = (lab.link(pod, "eth0") or {}).get("mtu")
        if mtu != MTU:
            return (
                False,
                f"eth0 of {pod} has MTU {mtu}: packets bigger than the tunnel's "
                f"{MTU} bytes are dropped in the bridge.",
            )
    return True, f"both pods use MTU {MTU}."


@CHECKS.check("a 1 MB TCP transfer from pod1 to pod2 completes")
def bulk_transfer(lab):
    size = 1_000_000
    got = lab.tcp_transfer("pod1", "pod2", "10.0.42.2", size)
    if got != size:
        return False, f"pod2 received {got} of {size} bytes."
    return True, "the transfer completed."


@CHECKS.check(
    "no black hole: a 1450-byte DF packet crosses, a 1500-byte one is refused "
    "in pod1 itself instead of vanishing",
    points=2,
    hidden=True,
)
def no_black_hole(lab):
    if not lab.ping("pod1", "10.0.42.2", size=MTU - 28, dont_fragment=True):
        return False, f"a {MTU}-byte packet with DF set does not reach pod2."
    lab.output(
        "pod1", "ip", "route", "flush", "cache"
    )  # forget path MTUs learned by earlier checks
    out = lab.output(
        "pod1", "ping", "-n", "-c", "1", "-W", "1", "-M", "do", "-s", "1472", "10.0.42.2"
    )
    if "message too long" not in out:
        return (
            False,
            "pod1 sends 1500-byte packets that are dropped on the way without an "
            "error (a black hole): the pod's MTU is larger than the tunnel's.",
        )
    return True, "pod1 knows its packets must fit in 1450 bytes."


@CHECKS.check("on the underlay, pod traffic is UDP 4789 with VNI 42 around the pods' ICMP")
def on_the_wire(lab):
    from scapy.layers.inet import ICMP
    from scapy.layers.vxlan import VXLAN

    # Two echoes cross node2's eth0 four times; an inner ARP exchange may come first.
    packets = lab.capture(
        "node2",
        "eth0",
        f"udp port {PORT}",
        lambda: lab.ping("pod1", "10.0.42.2", count=2),
        count=4,
    )
    inner = [p for p in packets if VXLAN in p and ICMP in p[VXLAN]]
    if not inner:
        return (
            False,
            f"no VXLAN-encapsulated ICMP seen on node2's eth0 ({len(packets)} "
            "UDP 4789 packets captured).",
        )
    if any(p[VXLAN].vni != VNI for p in inner):
        return False, f"captured VXLAN packets carry VNI {inner[0][VXLAN].vni}, not {VNI}."
    return True, f"{len(inner)} ICMP packets crossed the underlay inside VXLAN VNI {VNI}."
