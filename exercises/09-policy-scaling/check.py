"""Exercise 09: a policy of 100 blocked ports as one eBPF hash map lookup, in the live lab."""

from taplab.exercises.apply import Privileges
from taplab.exercises.grading import Checklist

CHECKS = Checklist()
PRIVILEGES = Privileges(caps=("net_admin", "net_raw", "bpf", "perfmon"))  # tc eBPF
SERVER = "10.244.1.3"
BLOCKED = range(10000, 10100)


def _policy_map(lab) -> dict | None:
    """The (single) hash map of the tc program on pod2's eth0 ingress."""
    options = lab.tc_bpf("pod2", "eth0") or {}
    prog_id = options.get("prog", {}).get("id")
    maps = lab.bpf_maps(prog_id) if prog_id is not None else []
    return next((m for m in maps if m.get("type") == "hash"), None)


@CHECKS.check("pod2's eth0 has an eBPF program on tc ingress, in direct-action mode", points=2)
def program_attached(lab):
    options = lab.tc_bpf("pod2", "eth0")
    if options is None:
        return False, "no bpf filter on pod2's eth0 ingress (tc filter show dev eth0 ingress)."
    if not options.get("direct-action"):
        return False, "the bpf filter is not in direct-action mode (direct_action=True)."
    return True, f"program {options.get('bpf_name', '?')} is attached."


@CHECKS.check("the program uses one hash map holding exactly the 100 blocked ports", points=2)
def map_filled(lab):
    info = _policy_map(lab)
    if info is None:
        return False, "the tc program uses no hash map (bpftool prog show, map_ids)."
    ports = set(lab.bpf_map_entries(info["id"]))
    if ports != set(BLOCKED):
        return (
            False,
            f"map {info.get('name')} holds {len(ports)} ports, not the 100 ports 10000-10099.",
        )
    return True, f"map {info.get('name')} holds the 100 blocked ports."


@CHECKS.check("pod1's connection to a blocked port (10042) is dropped: no answer at all", points=2)
def blocked_dropped(lab):
    result = lab.connect("pod1", SERVER, 10042)
    if result != "timeout":
        return False, f"connecting to port 10042 was {result}: the SYN reached pod2."
    return True, "the SYN to port 10042 vanished."


@CHECKS.check("pod1 still reaches pod2 on an allowed port (8080 answers, even with a RST)")
def allowed_passes(lab):
    result = lab.connect("pod1", SERVER, 8080)
    if result == "timeout":
        return False, "a connection to port 8080 got no answer: the policy drops too much."
    return True, f"port 8080: {result}."


@CHECKS.check("the policy lives in the map, not in iptables: no DROP rules in pod2")
def no_iptables(lab):
    rules = [r for r in lab.iptables_rules("pod2") if "DROP" in r or "REJECT" in r]
    if rules:
        return (
            False,
            f"pod2 still has {len(rules)} iptables DROP/REJECT rules "
            "(sudo taplab exercise reset 09, then load only the eBPF policy).",
        )
    return True, "pod2's iptables are empty."


@CHECKS.check("the range is exact: 10000 and 10099 dropped, 9999 and 10100 answered", hidden=True)
def edges(lab):
    for port, expect_drop in ((10000, True), (10099, True), (9999, False), (10100, False)):
        dropped = lab.connect("pod1", SERVER, port) == "timeout"
        if dropped != expect_drop:
            return False, f"port {port} was {'dropped' if dropped else 'answered'}."
    return True, "the edges of the range are right."
