"""Exercise 07: the sidecar tap, checked by what arrives at the collector."""

from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import Ether
from scapy.layers.vxlan import VXLAN

from taplab.exercises.apply import Privileges
from taplab.exercises.grading import Checklist

CHECKS = Checklist()
PRIVILEGES = Privileges()  # students' files run as nobody with NET_ADMIN and NET_RAW
POD1, POD2 = "10.244.1.2", "10.244.1.3"
PINGS, VNI = 5, 42
_seen: list = []  # the collector's capture, taken once per grading


def _copies(lab) -> list:
    """VXLAN packets at the collector while pod1 pings pod2 PINGS times."""
    if not _seen:
        lab.ping("pod1", POD2, count=1)  # neighbours resolved: only ICMP below
        _seen.append(
            lab.capture(
                "pod3",
                "eth0",
                "udp dst port 4789",
                lambda: lab.ping("pod1", POD2, count=PINGS),
                count=100,
                timeout=2,
            )
        )
    return [p for p in _seen[0] if VXLAN in p]


def _inner_icmp(lab, src: str, kind: int) -> list:
    return [
        p[VXLAN]
        for p in _copies(lab)
        if ICMP in p[VXLAN] and p[VXLAN][IP].src == src and p[VXLAN][ICMP].type == kind
    ]


@CHECKS.check("the sidecar started from your file runs in pod1")
def running(lab):
    daemons = lab.meta.get("daemons", {})
    found = [
        name
        for name, d in daemons.items()
        if d["node"] == "pod1"
        and lab.output("pod1", "ps", "-o", "pid=", "-p", str(d["pid"])).strip()
    ]
    if not found:
        return False, "no daemon runs in pod1: sudo taplab exercise run 07 sidecar.py."
    return True, f"{found[0]} runs in pod1."


@CHECKS.check("the collector gets pod1's 5 echo requests as VXLAN VNI 42 on UDP 4789", points=3)
def requests_copied(lab):
    requests = _inner_icmp(lab, POD1, 8)
    if len(requests) < PINGS:
        return (
            False,
            f"the collector got {len(requests)} of pod1's {PINGS} echo requests "
            f"inside VXLAN ({len(_copies(lab))} VXLAN packets in all).",
        )
    vnis = {p.vni for p in requests}
    if vnis != {VNI}:
        return False, f"the copies carry VNI {sorted(vnis)}, not {VNI}."
    return True, f"all {PINGS} requests arrived encapsulated, VNI {VNI}."


@CHECKS.check("... and pod2's 5 replies: the tap sees both directions")
def replies_copied(lab):
    replies = _inner_icmp(lab, POD2, 0)
    if len(replies) < PINGS:
        return False, f"the collector got {len(replies)} of pod2's {PINGS} echo replies."
    return True, "replies are copied too."


@CHECKS.check("no copies of copies: nothing sent to the collector is sent again")
def no_loops(lab):
    copies = _copies(lab)
    if not copies:
        return False, "the collector got no copies at all."
    nested = [p for p in copies if UDP in p[VXLAN] and p[VXLAN][UDP].dport == 4789]
    if nested:
        return False, f"{len(nested)} copies carry a VXLAN datagram: skip your own traffic."
    return True, "no copy carries another copy."


@CHECKS.check(
    "copies are whole frames: inner Ethernet addresses are pod1's and pod2's", hidden=True
)
def whole_frames(lab):
    macs = {lab.link(pod, "eth0")["address"] for pod in ("pod1", "pod2")}
    requests = _inner_icmp(lab, POD1, 8)
    if not requests or any({p[Ether].src, p[Ether].dst} != macs for p in requests):
        return False, "the inner frames do not carry pod1's and pod2's MAC addresses."
    return True, "inner frames are the pods' own Ethernet frames."
