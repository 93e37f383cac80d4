"""Exercise 06: an SDN mirror tap, checked on the live switch and the monitor's wire."""

from scapy.layers.inet import ICMP, IP

from taplab.exercises.apply import Privileges
from taplab.exercises.grading import Checklist

CHECKS = Checklist()
PRIVILEGES = Privileges(caps=())  # a Ryu app: OpenFlow on 127.0.0.1, as user nobody
H1, H2, MONITOR = "10.0.0.1", "10.0.0.2", "10.0.0.3"
PINGS = 5


def _icmp(packets, src: str, kind: int) -> list:
    return [
        p for p in packets if IP in p and ICMP in p and p[IP].src == src and p[ICMP].type == kind
    ]


def _monitor_sees(lab, node: str, dst: str) -> list:
    """What the monitor captured while node pinged dst PINGS times."""
    lab.ping(node, dst, count=1)  # let the switch learn first
    return lab.capture(
        "monitor",
        "eth0",
        "icmp",
        lambda: lab.ping(node, dst, count=PINGS),
        count=2 * PINGS,
        timeout=3,
    )


@CHECKS.check("h1 and h2 ping each other through the switch")
def connectivity(lab):
    if not lab.ping("h1", H2) or not lab.ping("h2", H1):
        return False, "h1 and h2 do not reach each other: is the switch table reached?"
    return True, "h1 and h2 answer each other."


@CHECKS.check("s1 has a flow copying port 1's packets to the monitor's port 3", points=2)
def mirror_flow(lab):
    for flow in lab.flows(lab.meta["switch"]):
        if (
            "in_port" in flow["match"]
            and "output:" in flow["actions"]
            and ("output:3" in flow["actions"] or "eth3" in flow["actions"])
        ):
            return True, f"{flow['match']} -> {flow['actions']}."
    return False, "no flow matches in_port and outputs to port 3."


@CHECKS.check("the monitor receives a copy of each of h1's 5 pings to h2", points=2)
def copies_arrive(lab):
    requests = _icmp(_monitor_sees(lab, "h1", H2), H1, 8)
    if len(requests) < PINGS:
        return False, f"the monitor saw {len(requests)} of h1's {PINGS} echo requests."
    return True, f"the monitor saw all {PINGS} echo requests."


@CHECKS.check("mirroring does not disturb: h2 gets each ping once (no duplicates)")
def no_duplicates(lab):
    out = lab.output("h1", "ping", "-n", "-c", "3", "-i", "0.2", "-W", "1", H2)
    if "DUP!" in out or " 0% packet loss" not in out:
        return False, "h1's pings to h2 were lost or duplicated while mirrored."
    return True, "3 pings, 3 answers, no duplicates."


@CHECKS.check("only what h1 sends is copied: h2's echo requests to h1 are not", hidden=True)
def only_h1(lab):
    packets = _monitor_sees(lab, "h2", H1)
    if _icmp(packets, H2, 8):
        return False, "the monitor received h2's echo requests: mirror port 1 only."
    if len(_icmp(packets, H1, 0)) < PINGS:
        return False, "the monitor missed h1's echo replies (h1 sends them)."
    return True, "the monitor got h1's replies and none of h2's requests."
