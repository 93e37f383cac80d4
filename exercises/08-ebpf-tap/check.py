"""Exercise 08: an eBPF tap on pod2's veth, checked by counting known traffic."""

import sys

from taplab.exercises.apply import Privileges
from taplab.exercises.grading import Checklist

CHECKS = Checklist()
PRIVILEGES = Privileges(caps=("net_admin", "net_raw", "bpf", "perfmon"))  # tc eBPF
DEV = "veth-pod2"
POD2 = "10.244.1.3"
ICMP, TCP, UDP, OTHER, SLOTS = range(5)
PINGS, TRANSFER, DATAGRAMS = 20, 1_000_000, 10
# Send DATAGRAMS UDP datagrams to argv[1], port 9 (discard: nothing answers).
_UDP = (
    "import socket, sys\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
    f"for _ in range({DATAGRAMS}): s.sendto(b'x', (sys.argv[1], 9))\n"
)


def _counters(lab) -> dict[int, int] | None:
    """The tap's counters map (the array the program on veth-pod2 uses), or None."""
    options = lab.tc_bpf("node1", DEV, "ingress") or {}
    prog_id = options.get("prog", {}).get("id")
    for info in lab.bpf_maps(prog_id) if prog_id is not None else []:
        if info.get("type") == "array":
            return lab.bpf_map_entries(info["id"])
    return None


def _grown(lab, traffic) -> dict[int, int] | None:
    """How much each counter grew while traffic() ran."""
    before = _counters(lab)
    if before is None:
        return None
    traffic()
    after = _counters(lab) or {}
    return {k: after.get(k, 0) - v for k, v in before.items()}


@CHECKS.check("veth-pod2 has the eBPF program on tc ingress and egress, direct action", points=2)
def attached(lab):
    for direction in ("ingress", "egress"):
        options = lab.tc_bpf("node1", DEV, direction)
        if options is None:
            return False, f"no bpf filter on {DEV} {direction} in node1."
        if not options.get("direct-action"):
            return False, f"the {direction} filter is not in direct-action mode."
    return True, "attached both ways."


@CHECKS.check("20 pings from pod1 to pod2 add exactly 40 to the ICMP packet counter", points=3)
def icmp_exact(lab):
    grown = _grown(
        lab,
        lambda: lab.output("pod1", "ping", "-n", "-c", str(PINGS), "-i", "0.05", "-W", "1", POD2),
    )
    if grown is None:
        return False, "the program on veth-pod2 has no array map of counters."
    if grown.get(ICMP) != 2 * PINGS:
        return (
            False,
            f"the ICMP packet counter (key {ICMP}) grew by {grown.get(ICMP)}, not "
            f"{2 * PINGS} ({PINGS} requests out, {PINGS} replies in).",
        )
    return True, f"ICMP +{2 * PINGS}, bytes +{grown.get(SLOTS + ICMP)}."


@CHECKS.check("a 1 MB TCP transfer passes and adds at least 1 MB to the TCP byte counter", points=2)
def tcp_bytes(lab):
    got = {}
    grown = _grown(lab, lambda: got.update(n=lab.tcp_transfer("pod1", "pod2", POD2, TRANSFER)))
    if got.get("n") != TRANSFER:
        return (
            False,
            f"the transfer got {got.get('n', 0)} of {TRANSFER} bytes through: the "
            "tap must not drop (TC_ACT_OK).",
        )
    if grown is None or grown.get(SLOTS + TCP, 0) < TRANSFER:
        return (
            False,
            f"the TCP byte counter (key {SLOTS + TCP}) grew by "
            f"{(grown or {}).get(SLOTS + TCP)}, less than the {TRANSFER} bytes sent.",
        )
    return True, f"TCP +{grown[TCP]} packets, +{grown[SLOTS + TCP]} bytes."


@CHECKS.check("10 UDP datagrams add exactly 10 to the UDP packet counter", hidden=True)
def udp_exact(lab):
    grown = _grown(lab, lambda: lab.output("pod1", sys.executable, "-c", _UDP, POD2))
    if grown is None or grown.get(UDP) != DATAGRAMS:
        return False, f"the UDP counter grew by {(grown or {}).get(UDP)}, not {DATAGRAMS}."
    return True, f"UDP +{DATAGRAMS}."
