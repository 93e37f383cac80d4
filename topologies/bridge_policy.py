"""The ``bridge-policy`` topology: the policy-scaling experiment of the eBPF report.

Two hosts, two containers each on a Linux bridge ``br0``, hosts joined by a
routed link, and ``rules`` policy entries that no traffic of the lab matches
(sources in 198.18.0.0/15), with bridge netfilter on, so that both bridged
(c1 -> c2) and routed (c1 -> c3) traffic meets them::

    c1 .1.2  c2 .1.3                 c3 .2.2  c4 .2.3
        \\    /                           \\    /
    br0 10.0.1.1 host1 ==192.168.1.0/24== host2 br0 10.0.2.1

Variants (the policy mechanism):

- ``no-match``: iptables rules in chain ``TAPLAB-POLICY`` (jumped to from
  ``FORWARD``); every packet walks all of them;
- ``match-top``: the same, but the first rule accepts the containers' traffic;
- ``nft-set``: one nftables rule looking the packet up in a set of the entries;
- ``ebpf-map``: a TC program (``policy_map.c``) on every container's host-side
  veth looking the packet up in a hash map of the entries, as Cilium does.

Hosts and containers are published like a cluster's nodes and pods
(``k8s_nodes``, ``pods``), plus ``policy``. ``set_policy(lab, rules, variant)``
replaces the policy of a running lab (what ``taplab bench policy`` does between
points). When the kernel has no bridge netfilter, bridged traffic skips
iptables and nftables: the builder says so and records
``bridge_netfilter: false`` in the lab's meta.
"""

import ipaddress
import socket
from pathlib import Path

from mininet.log import warn

from taplab import capabilities, tcbpf
from taplab.errors import UserError
from taplab.shell import run, succeeds
from taplab.taps.netns import inside
from taplab.taps.target import resolve
from taplab.topologies import routed
from taplab.topologies.cluster import add_node, add_pod
from taplab.topologies.registry import topology

CHAIN = "TAPLAB-POLICY"
NFT_TABLE = "taplab_policy"
VARIANTS = ("no-match", "match-top", "nft-set", "ebpf-map")
MAX_RULES = 10000
BR_NF = "/proc/sys/net/bridge/bridge-nf-call-iptables"
_PROGRAMS: dict[str, dict] = {}  # lab id -> the loaded eBPF policy and where it is attached


def entries(rules: int) -> list[tuple[str, int]]:
    """(source, TCP destination port) of each entry: 198.18.0.0/15 never appears in a lab."""
    return [(f"198.18.{k // 256}.{k % 256}", 1024 + k) for k in range(rules)]


def ruleset(rules: int, variant: str, match: str) -> str:
    """iptables-restore input: rules rules, the first matching match when match-top."""
    lines = ["*filter", f":{CHAIN} - [0:0]", f"-I FORWARD -j {CHAIN}"]
    for k, (source, port) in enumerate(entries(rules)):
        if k == 0 and variant == "match-top":
            lines.append(f"-A {CHAIN} -s {match} -j ACCEPT")
        else:
            lines.append(f"-A {CHAIN} -s {source}/32 -p tcp --dport {port} -j DROP")
    return "\n".join([*lines, "COMMIT", ""])


def nft_ruleset(rules: int) -> str:
    """nft -f input: one forward-hook rule dropping what is in a set of rules entries."""
    listed = ", ".join(f"{source} . {port}" for source, port in entries(rules))
    elements = f" elements = {{ {listed} }};" if rules else ""
    return (
        f"table ip {NFT_TABLE} {{\n"
        f"  set blocked {{ type ipv4_addr . inet_service;{elements} }}\n"
        "  chain forward { type filter hook forward priority 0; policy accept;\n"
        "    ip saddr . tcp dport @blocked drop; }\n}\n"
    )


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
    check(rules, variant)
    capabilities.require("iptables")
    hosts = {}
    for i, node in enumerate(spec["nodes"], 1):
        hosts[node["name"]] = add_node(
            lab, node["name"], i, ipaddress.ip_network(node["cidr"]), bridge="br0"
        )
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
        has_brnf = succeeds(["test", "-e", BR_NF], netns=ns)
        if has_brnf:
            run(["sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1"], netns=ns)
        netfilter = netfilter and has_brnf
    if not netfilter:
        warn(
            "*** bridge netfilter (br_netfilter) is missing in this kernel: traffic between "
            "containers on one host skips iptables and nftables; routed traffic between "
            "hosts still meets the policy\n"
        )
    lab.set_meta(policy={"chain": CHAIN, "containers": containers, "bridge_netfilter": netfilter})
    set_policy(lab, rules, variant)


def check(rules: int, variant: str) -> None:
    """One sentence for a policy this topology cannot have."""
    if not 0 <= rules <= MAX_RULES or variant not in VARIANTS:
        raise UserError(
            f"bridge-policy needs 0-{MAX_RULES} rules and a variant in {', '.join(VARIANTS)}."
        )
    if variant == "nft-set":
        capabilities.require("nftables")
    if variant == "ebpf-map":
        capabilities.require("bcc")
        capabilities.require("tc_bpf")


def set_policy(lab, rules: int, variant: str) -> None:
    """Replace the policy of every host of a running bridge-policy lab."""
    check(rules, variant)
    policy = lab.meta["policy"]
    hosts = list(lab.meta["k8s_nodes"])
    for node in hosts:
        _clear(lab, node)
    _detach_ebpf(lab)
    for node in hosts:
        if variant in ("no-match", "match-top"):
            _feed(
                lab,
                node,
                ["iptables-restore", "--noflush"],
                ruleset(rules, variant, policy["containers"]),
            )
        elif variant == "nft-set":
            _feed(lab, node, ["nft", "-f", "-"], nft_ruleset(rules))
    if variant == "ebpf-map":
        _attach_ebpf(lab, rules)
    lab.set_meta(policy={**policy, "rules": rules, "variant": variant})


def _feed(lab, node: str, argv: list[str], text: str) -> None:
    run(argv, netns=lab.netns(node), input=text)


def _clear(lab, node: str) -> None:
    """No iptables chain and no nftables table of ours in node."""
    ns = lab.netns(node)
    while succeeds(["iptables", "-D", "FORWARD", "-j", CHAIN], netns=ns):
        pass
    run(["iptables", "-F", CHAIN], check=False, netns=ns)
    run(["iptables", "-X", CHAIN], check=False, netns=ns)
    run(["nft", "delete", "table", "ip", NFT_TABLE], check=False, netns=ns)


def _program(lab) -> dict:
    """The eBPF policy of lab, compiled and loaded once (the map is refilled per point)."""
    if lab.id not in _PROGRAMS:
        from bcc import BPF

        source = Path(__file__).with_name("policy_map.c")
        bpf = BPF(src_file=str(source), cflags=[f"-DPOLICY_ENTRIES={MAX_RULES}"])
        _PROGRAMS[lab.id] = {
            "bpf": bpf,
            "fn": bpf.load_func("taplab_policy", BPF.SCHED_CLS),
            "veths": [],
        }
    return _PROGRAMS[lab.id]


def _attach_ebpf(lab, rules: int) -> None:
    """The program on the ingress of every container's host-side veth, rules entries in its map."""
    from pyroute2 import IPRoute

    program = _program(lab)
    table = program["bpf"]["policy"]
    table.clear()
    for source, port in entries(rules):
        key = table.Key(
            saddr=int.from_bytes(socket.inet_aton(source), "little"), dport=socket.htons(port)
        )
        table[key] = table.Leaf(1)
    for pod in lab.meta["pods"]:
        target = resolve(lab, pod, host_side=True)
        run(["tc", "qdisc", "add", "dev", target.intf, "clsact"], netns=target.netns)
        resource = {"kind": "qdisc", "dev": target.intf, "parent": "clsact", "netns": target.netns}
        if resource not in program["veths"]:
            lab.record(resource)
            program["veths"].append(resource)
        with inside(target.netns), IPRoute() as ipr:
            index = ipr.link_lookup(ifname=target.intf)[0]
            tcbpf.attach(ipr, index, program["fn"], tcbpf.INGRESS)


def _detach_ebpf(lab) -> None:
    """The eBPF policy off every veth (its program stays loaded for the next point)."""
    for resource in _PROGRAMS.get(lab.id, {}).get("veths", []):
        run(
            ["tc", "qdisc", "del", "dev", resource["dev"], "clsact"],
            check=False,
            netns=resource["netns"],
        )
