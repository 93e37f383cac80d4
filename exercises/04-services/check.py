"""Exercise 04: ClusterIP and NodePort services with iptables DNAT, checked in the live lab."""

from taplab.exercises.apply import Privileges
from taplab.exercises.grading import Checklist

CHECKS = Checklist()
PRIVILEGES = Privileges()  # students' files run as nobody with NET_ADMIN and NET_RAW
CLUSTER_IP, NODE_PORT = "10.96.0.10", 30080
CLUSTER_URL, NODE_PORT_URL = f"http://{CLUSTER_IP}/", f"http://192.168.0.1:{NODE_PORT}/"
PODS = {"pod1", "pod2"}
TRIES = 16  # both pods answer at least once unless p = 2 * 0.5**16


def _nat_rule(lab, *needles: str) -> str | None:
    for rule in lab.iptables_rules("node1", "nat"):
        if all(n in rule.split() for n in needles):
            return rule
    return None


@CHECKS.check("node1's nat table matches the ClusterIP 10.96.0.10, TCP port 80")
def cluster_ip_rule(lab):
    rule = _nat_rule(lab, f"{CLUSTER_IP}/32", "--dport", "80")
    if rule is None:
        return False, "no rule in node1's nat table with -d 10.96.0.10/32 ... --dport 80."
    return True, f"found: {rule}"


@CHECKS.check("node1 gets a pod's page from http://10.96.0.10/", points=2)
def cluster_ip_answers(lab):
    answer = lab.http_get("node1", CLUSTER_URL)
    if not answer or answer[0] not in PODS:
        return (
            False,
            f"GET {CLUSTER_URL} from node1 answered {answer or 'nothing'}: "
            "DNAT locally generated traffic in the OUTPUT chain too.",
        )
    return True, f"{answer[0]} answered."


@CHECKS.check("the ClusterIP spreads connections over both pods", points=2)
def cluster_ip_balances(lab):
    seen = set(lab.http_get("node1", CLUSTER_URL, TRIES))
    if seen & PODS != PODS:
        return (
            False,
            f"{TRIES} requests were answered by {sorted(seen)}: both pods should "
            "answer (iptables -m statistic).",
        )
    return True, "both pods answered."


@CHECKS.check("node1's nat table matches NodePort 30080")
def node_port_rule(lab):
    rule = _nat_rule(lab, "--dport", str(NODE_PORT))
    if rule is None:
        return False, "no rule in node1's nat table with --dport 30080."
    return True, f"found: {rule}"


@CHECKS.check("ext gets a pod's page from http://192.168.0.1:30080/", points=2)
def node_port_answers(lab):
    answer = lab.http_get("ext", NODE_PORT_URL)
    if not answer or answer[0] not in PODS:
        return False, f"GET {NODE_PORT_URL} from ext answered {answer or 'nothing'}."
    return True, f"{answer[0]} answered."


@CHECKS.check("the NodePort spreads connections over both pods", hidden=True)
def node_port_balances(lab):
    seen = set(lab.http_get("ext", NODE_PORT_URL, TRIES))
    if seen & PODS != PODS:
        return False, f"{TRIES} requests to the NodePort were answered by {sorted(seen)}."
    return True, "both pods answered through the NodePort."
