"""Where a tap attaches: ``NODE[:INTF]`` resolved to a namespace and an interface.

Taps that belong on the host side of a pod (``ebpf``, ``xdp-flowtable``) given
a pod move to the peer of the pod's veth, in the node's namespace::

    pod1 [pod1-eth0] ==veth== [node1-eth1] node1   <- ebpf attaches here
"""

import json
from dataclasses import dataclass

from taplab.errors import UserError
from taplab.shell import capture


@dataclass(frozen=True)
class Target:
    node: str
    netns: str
    intf: str


def links(lab, node: str) -> list[dict]:
    """``ip -j link`` of a node."""
    return json.loads(lab.sh(node, ["ip", "-j", "link", "show"]) or "[]")


def _default_intf(lab, node: str) -> str:
    for link in links(lab, node):
        if link["ifname"] != "lo" and "link_index" in link:
            return link["ifname"]
    raise UserError(f"node '{node}' has no veth interface to tap; give one as {node}:INTF.")


def netns_named(lab, node: str | None, nsid: int) -> str | None:
    """The named namespace that nsid stands for as seen from node (None: the root
    namespace); None when it has no name. Ids, like interface indexes, are per namespace.
    (Namespaces of other labs come and go meanwhile: ip's complaints about them are ignored.)"""
    out = capture(
        ["ip", "-j", "netns", "list-id"], netns=lab.netns(node) if node else None, timeout=30
    ).stdout
    return next((i.get("name") for i in json.loads(out or "[]") if i["nsid"] == nsid), None)


def peer(lab, node: str, intf: str) -> Target | None:
    """The other end of a veth, when it is a bridge port in another node of the lab.

    Interface indexes are per namespace, so the peer is looked up by its index only
    in the namespace that the link's netns id names."""
    mine = next(link for link in links(lab, node) if link["ifname"] == intf)
    if "link_netnsid" not in mine or mine.get("master"):
        return None
    netns = netns_named(lab, node, mine["link_netnsid"])
    other = next((n for n in lab.nodes if n != node and lab.netns(n) == netns), None)
    if other is None:
        return None
    for link in links(lab, other):
        if (
            link["ifindex"] == mine["link_index"]
            and link.get("master")
            and link.get("link_index") == mine["ifindex"]
        ):
            return Target(other, netns, link["ifname"])
    return None


def resolve(lab, spec: str, host_side: bool = False) -> Target:
    """NODE[:INTF] in lab; with host_side, a pod's default veth becomes its peer."""
    node, _, intf = spec.partition(":")
    netns = lab.netns(node)
    if intf:
        if not any(link["ifname"] == intf for link in links(lab, node)):
            raise UserError(f"node '{node}' has no interface '{intf}'.")
        return Target(node, netns, intf)
    intf = _default_intf(lab, node)
    if host_side:
        peer_end = peer(lab, node, intf)
        if peer_end is not None:
            return peer_end
    return Target(node, netns, intf)
