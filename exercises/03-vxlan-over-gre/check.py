"""Exercise 03: VXLAN over GRE on the spine-leaf fabric (the published homework's facts)."""

from taplab.exercises.apply import Privileges
from taplab.exercises.grading import Checklist

CHECKS = Checklist()
PRIVILEGES = Privileges(ip_enters_namespaces=True)  # ip -n sets the hosts' MTU
H1, H2 = "192.168.42.1", "192.168.42.2"
FABRIC = {"leaf1": "10.0.1.2", "leaf2": "10.0.2.2"}
VTEPS = {"vtep1": "10.1.1.2", "vtep2": "10.1.2.2"}
PEER = {"leaf1": "leaf2", "leaf2": "leaf1", "vtep1": "vtep2", "vtep2": "vtep1"}
GRE_MTU, VXLAN_MTU, VNI, PORT = 1476, 1426, 42, 4789
_seen: list = []  # spine1's capture, taken once per grading


# Devices a kernel with ip_gre creates in every namespace (no endpoints): never the student's.
KERNEL_FALLBACK = {"gre0", "gretap0", "erspan0"}


def _device(lab, node: str, kind: str) -> dict | None:
    """The first kind device of node that someone created (not the kernel's fallback)."""
    return next(
        (
            link
            for link in lab.links(node).values()
            if lab.kind(link) == kind and not _kernel_fallback(link)
        ),
        None,
    )


def _kernel_fallback(link: dict) -> bool:
    data = link.get("linkinfo", {}).get("info_data", {})
    return link["ifname"] in KERNEL_FALLBACK and data.get("remote") in (None, "any", "0.0.0.0")


def _spine_capture(lab) -> list:
    """Packets on spine1 (every interface) while h1 pings h2 three times."""
    if not _seen:
        lab.ping("h1", H2, count=1)
        _seen.append(
            lab.capture(
                "spine1", "any", "ip", lambda: lab.ping("h1", H2, count=3), count=100, timeout=2
            )
        )
    return _seen[0]


@CHECKS.check(
    "leaf1 and leaf2 have a GRE tunnel to each other's fabric address, MTU 1476", points=2
)
def gre_tunnels(lab):
    for leaf, peer in (("leaf1", "leaf2"), ("leaf2", "leaf1")):
        gre = _device(lab, leaf, "gre")
        if gre is None:
            return False, f"{leaf} has no GRE device (ip link add gre1 type gre ...)."
        data = gre["linkinfo"].get("info_data", {})
        if (data.get("local"), data.get("remote")) != (FABRIC[leaf], FABRIC[peer]):
            return (
                False,
                f"{leaf}'s GRE runs {data.get('local')} -> {data.get('remote')}, "
                f"not {FABRIC[leaf]} -> {FABRIC[peer]}.",
            )
        if gre.get("mtu") != GRE_MTU:
            return False, f"{leaf}'s GRE device has MTU {gre.get('mtu')}, not {GRE_MTU}."
    return True, "the leaves are joined by GRE, MTU 1476."


@CHECKS.check("vtep1 and vtep2 have VXLAN VNI 42 on UDP 4789 to each other, on br0", points=2)
def vxlan_devices(lab):
    for vtep, peer in (("vtep1", "vtep2"), ("vtep2", "vtep1")):
        dev = _device(lab, vtep, "vxlan")
        if dev is None:
            return False, f"{vtep} has no VXLAN device."
        data = dev["linkinfo"].get("info_data", {})
        if (data.get("id"), data.get("port")) != (VNI, PORT):
            return False, f"{vtep}'s VXLAN has VNI {data.get('id')}, port {data.get('port')}."
        if data.get("remote") != VTEPS[peer] or dev.get("master") != "br0":
            return False, f"{vtep}'s VXLAN must send to {VTEPS[peer]} and be a port of br0."
    return True, "VNI 42 on UDP 4789 between the VTEPs."


@CHECKS.check("h1 pings h2", points=2)
def tenants_ping(lab):
    if not lab.ping("h1", H2):
        return False, "h1 gets no answer from h2."
    return True, "h1 reaches h2."


@CHECKS.check("on spine1, tenant traffic is GRE carrying VXLAN: no bare UDP 4789", points=2)
def through_gre(lab):
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import GRE

    packets = _spine_capture(lab)
    gre = [p for p in packets if GRE in p and UDP in p[GRE] and p[GRE][UDP].dport == PORT]
    bare = [p for p in packets if GRE not in p and UDP in p and p[UDP].dport == PORT]
    if bare:
        return (
            False,
            f"{len(bare)} VXLAN packets crossed spine1 outside the GRE tunnel: "
            "route the VTEP networks through gre1.",
        )
    if not gre:
        return False, "no GRE packet carrying VXLAN crossed spine1."
    return (
        True,
        f"{len(gre)} VXLAN packets crossed spine1 inside GRE ({gre[0][IP].src} -> "
        f"{gre[0][IP].dst}).",
    )


@CHECKS.check("a GRE packet is its inner IP packet plus 4 bytes")
def gre_length(lab):
    from scapy.layers.inet import IP
    from scapy.layers.l2 import GRE

    for p in _spine_capture(lab):
        if GRE in p and IP in p[GRE]:
            outer, inner = p[IP].len - p[IP].ihl * 4, p[GRE][IP].len
            if outer != inner + 4:
                return False, f"GRE payload {outer} bytes for an inner packet of {inner}."
            return True, f"{outer} = {inner} + 4 bytes of GRE header."
    return False, "no GRE packet was captured on spine1."


@CHECKS.check("the tenants' MTU is 1426 and a 1426-byte DF ping crosses", points=2, hidden=True)
def tenant_mtu(lab):
    for host in ("h1", "h2"):
        mtu = (lab.link(host, "eth0") or {}).get("mtu")
        if mtu != VXLAN_MTU:
            return False, f"{host}'s eth0 has MTU {mtu}, not {VXLAN_MTU}."
    if not lab.ping("h1", H2, size=VXLAN_MTU - 28, dont_fragment=True):
        return False, f"a {VXLAN_MTU}-byte packet with DF set does not reach h2."
    return True, f"{VXLAN_MTU}-byte packets cross both tunnels."
