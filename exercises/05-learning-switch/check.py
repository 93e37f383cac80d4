"""Exercise 05: a learning switch in the Ryu API, checked on the live switch and hosts."""

from taplab.exercises.apply import Privileges
from taplab.exercises.grading import Checklist
from taplab.exercises.live import wait_until

CHECKS = Checklist()
PRIVILEGES = Privileges(caps=())  # a Ryu app: OpenFlow on 127.0.0.1, as user nobody
HOSTS = {"h1": "10.0.0.1", "h2": "10.0.0.2", "h3": "10.0.0.3"}


def _table_miss(lab):
    for flow in lab.flows(lab.meta["switch"]):
        if flow.get("priority", "32768") == "0" and not flow["match"]:
            return flow
    return None


@CHECKS.check("a controller app installed a table-miss flow sending packets up")
def table_miss(lab):
    flow = _table_miss(lab)
    if flow is None or "CONTROLLER" not in flow["actions"]:
        return False, "s1 has no priority-0 flow matching everything with output to CONTROLLER."
    return True, f"table miss: {flow['actions']}."


@CHECKS.check("every host pings every other host", points=2)
def connectivity(lab):
    for src in HOSTS:
        for dst, ip in HOSTS.items():
            if src != dst and not lab.ping(src, ip, count=1):
                return False, f"{src} gets no answer from {dst} ({ip})."
    return True, "all six pairs answer."


@CHECKS.check("learned destinations become flows matching eth_dst", points=2)
def learned_flows(lab):
    lab.ping("h1", HOSTS["h2"], count=1)
    learned = [f for f in lab.flows(lab.meta["switch"]) if "dl_dst" in f["match"]]
    if len(learned) < 2:
        return (
            False,
            f"s1 has {len(learned)} flows matching a destination MAC after h1 "
            "pinged h2: install one when you know the port (OFPFlowMod).",
        )
    return True, f"{len(learned)} flows match a destination MAC."


def _learned_packets(lab) -> int:
    return sum(
        int(f.get("n_packets", 0)) for f in lab.flows(lab.meta["switch"]) if "dl_dst" in f["match"]
    )


@CHECKS.check("once learned, h1-h2 pings are forwarded by flows, not the controller", points=2)
def stays_in_switch(lab):
    lab.ping("h1", HOSTS["h2"], count=1)
    before = _learned_packets(lab)
    lab.ping("h1", HOSTS["h2"], count=5)
    # OVS updates flow counters from its datapath about twice a second: wait for them.
    wait_until(lambda: _learned_packets(lab) - before >= 10, 3.0)
    forwarded = _learned_packets(lab) - before
    if forwarded < 10:
        return (
            False,
            f"learned flows forwarded {forwarded} of the 10 packets of 5 pings: "
            "the rest went up to the controller.",
        )
    return True, f"learned flows forwarded all {forwarded} packets."


@CHECKS.check("h3 does not see h1's pings to h2 (no flooding once learned)", hidden=True)
def no_flooding(lab):
    lab.ping("h1", HOSTS["h2"], count=1)
    seen = lab.capture(
        "h3", "eth0", "icmp", lambda: lab.ping("h1", HOSTS["h2"], count=3), count=1, timeout=2
    )
    if seen:
        return False, "h3 received ICMP between h1 and h2: unicast is still flooded."
    return True, "h3 saw none of it."
