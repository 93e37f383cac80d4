"""Kubernetes services the way kube-proxy's iptables mode does them.

In every node's namespace, ``nat`` chains send a service address to a
per-service chain that picks an endpoint with the ``statistic`` match (endpoint
k of n is taken with probability 1/(n-k), so each gets 1/n of new
connections) and DNATs to it::

    PREROUTING/OUTPUT -> KUBE-SERVICES -d 10.96.0.10 --dport 80 -> KUBE-SVC-WEB
        KUBE-SVC-WEB  -m statistic --probability 0.5 -> KUBE-SEP-WEB-1 (DNAT pod1:8080)
                      -> KUBE-SEP-WEB-2 (DNAT pod3:8080)
    KUBE-SERVICES -m addrtype --dst-type LOCAL -> KUBE-NODEPORTS --dport 30080
        -> KUBE-MARK-MASQ, KUBE-SVC-WEB          (NodePort traffic is masqueraded)

Connections from a pod to an endpoint on its own node are masqueraded too
(kube-proxy's hairpin case), so replies come back through the node even
without bridge netfilter.
"""

import ipaddress
import re

from taplab.shell import capture, run

MASQ_MARK = "0x4000/0x4000"


def _chain(prefix: str, name: str, suffix: str = "") -> str:
    return f"{prefix}-{re.sub('[^A-Z0-9]', '', name.upper())[:14]}{suffix}"


def ruleset(services: list[dict], pods: dict[str, dict], node_cidr: str) -> str:
    """The iptables-restore input for one node (pods: name -> {"ip": ...})."""
    chains = ["KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"]
    rules = [
        "-A PREROUTING -j KUBE-SERVICES",
        "-A OUTPUT -j KUBE-SERVICES",
        "-A POSTROUTING -j KUBE-POSTROUTING",
        f"-A KUBE-MARK-MASQ -j MARK --set-xmark {MASQ_MARK}",
        f"-A KUBE-POSTROUTING -m mark --mark {MASQ_MARK} -j MASQUERADE",
    ]
    local = ipaddress.ip_network(node_cidr)
    for svc in services:
        proto, svc_chain = svc["protocol"], _chain("KUBE-SVC", svc["name"])
        chains.append(svc_chain)
        rules.append(
            f"-A KUBE-SERVICES -d {svc['ip']}/32 -p {proto} --dport {svc['port']} -j {svc_chain}"
        )
        endpoints = svc["endpoints"]
        for k, pod in enumerate(endpoints):
            sep, ip = _chain("KUBE-SEP", svc["name"], f"-{k + 1}"), pods[pod]["ip"]
            chains.append(sep)
            left = len(endpoints) - k
            pick = f"-m statistic --mode random --probability {1 / left:.5f} " if left > 1 else ""
            rules.append(f"-A {svc_chain} {pick}-j {sep}")
            if ipaddress.ip_address(ip) in local:
                rules.append(f"-A {sep} -s {local} -j KUBE-MARK-MASQ")
            rules.append(f"-A {sep} -p {proto} -j DNAT --to-destination {ip}:{svc['target_port']}")
        if svc["type"] == "NodePort":
            match = f"-p {proto} --dport {svc['node_port']}"
            rules += [
                f"-A KUBE-NODEPORTS {match} -j KUBE-MARK-MASQ",
                f"-A KUBE-NODEPORTS {match} -j {svc_chain}",
            ]
    rules.append("-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS")
    return "\n".join(["*nat", *(f":{c} - [0:0]" for c in chains), *rules, "COMMIT", ""])


def install(
    netns: str, services: list[dict], pods: dict[str, dict], node_cidr: str, route_dev: str
) -> None:
    """Load the services' rules into one node's namespace (removed with it)."""
    if not services:
        return
    text = ruleset(services, pods, node_cidr)
    proc = capture(["iptables-restore", "--noflush"], netns=netns, input=text)
    if proc.returncode != 0:
        raise RuntimeError(f"iptables-restore in {netns} failed: {proc.stderr.strip()}")
    for svc in services:  # so that the node itself can reach ClusterIPs
        run(["ip", "route", "replace", f"{svc['ip']}/32", "dev", route_dev], netns=netns)
