"""The ``bridge-policy`` topology: the policy-scaling experiment of the eBPF report.

Two hosts, two containers each on a Linux bridge ``br0``, hosts joined by a
routed link; ``rules`` iptables rules in chain ``TAPLAB-POLICY`` (jumped to
from ``FORWARD``) with bridge netfilter on, so that both bridged
(c1 -> c2) and routed (c1 -> c3) traffic walks them::

    c1 .1.2  c2 .1.3                 c3 .2.2  c4 .2.3
        \\    /                           \\    /
    br0 10.0.1.1 host1 ==192.168.1.0/24== host2 br0 10.0.2.1

Hosts and containers are published like a cluster's nodes and pods
(``k8s_nodes``, ``pods``), plus ``policy``. Variants: ``no-match`` (no rule
matches: every packet walks all of them) and ``match-top`` (the first rule
accepts the containers' traffic). When the
kernel has no bridge netfilter, bridged traffic skips iptables: the builder
says so and records ``bridge_netfilter: false`` in the lab's meta.
"""

import ipaddress
import subprocess

from mininet.log import warn

from taplab import capabilities
from taplab.errors import UserError
from taplab.topologies import routed
from taplab.topologies.cluster import add_node, add_pod
from taplab.topologies.registry import topology

CHAIN = "TAPLAB-POLICY"
VARIANTS = ("no-match", "match-top")
BR_NF = "/proc/sys/net/bridge/bridge-nf-call-iptables"


def ruleset(rules: int, variant: str, match: str) -> str:
    """iptables-restore input: rules rules, the first matching match when match-top."""
    lines = ["*filter", f":{CHAIN} - [0:0]", f"-I FORWARD -j {CHAIN}"]
    for k in range(rules):
        if k == 0 and variant == "match-top":
            lines.append(f"-A {CHAIN} -s {match} -j ACCEPT")
        else:  # sources from 198.18.0.0/15 (benchmarking range) never appear in the lab
            lines.append(f"-A {CHAIN} -s 198.18.{k // 256}.{k % 256}/32 -p tcp "
                         f"--dport {1024 + k} -j DROP")
    return "\n".join([*lines, "COMMIT", ""])


def _covering(nets: list[ipaddress.IPv4Network]) -> ipaddress.IPv4Network:
    """The smallest network containing every one of nets (one rule matches them all)."""
    net = nets[0]
    while not all(n.subnet_of(net) for n in nets):
        net = net.supernet()
    return net


@topology("bridge-policy")
def build(lab, spec: dict, rules: int | None = None, variant: str | None = None) -> None:
    options = spec.get("options", {})
    rules = options.get("rules", 0) if rules is None else rules
    variant = variant or options.get("variant", "no-match")
    if not 0 <= rules <= 10000 or variant not in VARIANTS:
        raise UserError(f"bridge-policy needs 0-10000 rules and a variant in {VARIANTS}.")
    capabilities.require("iptables")
    hosts = {}
    for i, node in enumerate(spec["nodes"], 1):
        hosts[node["name"]] = add_node(lab, node["name"], i,
                                       ipaddress.ip_network(node["cidr"]), bridge="br0")
        for pod in node["pods"]:
            add_pod(lab, node["name"], pod)
    addressed = routed.add_links(lab, hosts, spec["links"])
    lab.start()
    for node, host in hosts.items():
        for other, peer in lab.meta["k8s_nodes"].items():
            if other != node:
                host.cmd(f"ip route replace {peer['cidr']} via {addressed.address(other, node)}")
    containers = str(_covering([ipaddress.ip_network(n["cidr"]) for n in spec["nodes"]]))
    netfilter = True
    for node in hosts:
        ns = lab.netns(node)
        has_brnf = subprocess.run(["ip", "netns", "exec", ns, "test", "-e", BR_NF]).returncode == 0
        if has_brnf:
            subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw",
                            "net.bridge.bridge-nf-call-iptables=1"], check=True)
        netfilter = netfilter and has_brnf
        subprocess.run(["ip", "netns", "exec", ns, "iptables-restore", "--noflush"],
                       input=ruleset(rules, variant, containers), text=True, check=True,
                       capture_output=True)
    if not netfilter:
        warn("*** bridge netfilter (br_netfilter) is missing in this kernel: traffic between "
             "containers on one host skips iptables; routed traffic between hosts still "
             f"walks {CHAIN}\n")
    lab.set_meta(policy={"rules": rules, "variant": variant, "chain": CHAIN,
                         "bridge_netfilter": netfilter})
