"""A lab's links from outside Mininet: a node's veth, its other end, and the
impairments set on both (``taplab link``, the lab CLI's ``link``, topology files).

    ends = find(lab, "pod1", peer="cni0")   # pod1's veth whose other end is on cni0
    impair(lab, ends, Impairment.parse(rate="20mbit"))
"""

import json
from dataclasses import asdict, dataclass

from taplab.errors import UserError
from taplab.impairments import Impairment, check_kernel, tc_commands
from taplab.shell import run
from taplab.taps.target import netns_named


@dataclass(frozen=True)
class End:
    """One end of a veth: its node (None: the root namespace), namespace and name,
    and the bridge it is a port of."""

    node: str | None
    netns: str | None
    intf: str
    master: str | None = None

    def __str__(self) -> str:
        return f"{self.node or 'root'}:{self.intf}"


def _links(netns: str | None) -> list[dict]:
    return json.loads(run(["ip", "-j", "link", "show"], netns=netns) or "[]")


def other_end(lab, end: End) -> End | None:
    """The peer of a veth, wherever it is (another node, or the root namespace)."""
    mine = next((link for link in _links(end.netns) if link["ifname"] == end.intf), None)
    if mine is None or "link_index" not in mine:
        return None
    netns = end.netns
    if "link_netnsid" in mine:
        netns = netns_named(lab, end.node, mine["link_netnsid"])
    nodes = {ns: name for name, ns in lab.nodes.items()}
    if netns is not None and netns not in nodes:
        return None  # a namespace this lab does not know
    for link in _links(netns):
        if link["ifindex"] == mine["link_index"]:
            return End(nodes.get(netns), netns, link["ifname"], link.get("master"))
    return None


def find(lab, spec: str, peer: str | None = None) -> tuple[End, End | None]:
    """NODE[:INTF]'s veth (the one towards peer, a node or a bridge, when given)
    and its other end."""
    node, _, intf = spec.partition(":")
    netns = lab.netns(node)
    links = _links(netns)
    names = [intf] if intf else [ln["ifname"] for ln in links if "link_index" in ln]
    if intf and not any(ln["ifname"] == intf for ln in links):
        raise UserError(f"node '{node}' has no interface '{intf}'.")
    for name in names:
        end = End(node, netns, name)
        other = other_end(lab, end)
        if peer is None or other and peer in (other.node, other.master):
            return end, other
    if peer is None:
        raise UserError(f"node '{node}' has no veth link; give one as {node}:INTF.")
    raise UserError(
        f"node '{node}' has no link to '{peer}' (a node, or a bridge its other end is a port of)."
    )


def impair(lab, ends: tuple[End, End | None], imp: Impairment) -> None:
    """Give both ends of a link imp (replacing what they had; empty: clear them)."""
    check_kernel(imp)
    for end in (e for e in ends if e is not None):
        run(["tc", "qdisc", "del", "dev", end.intf, "root"], check=False, netns=end.netns)
        for argv in tc_commands(end.intf, imp):
            run(argv, netns=end.netns)
        if imp:
            lab.record({"kind": "qdisc", "dev": end.intf, "parent": "root", "netns": end.netns})
    first, second = ends
    recorded = dict(lab.meta.get("impairments", {}))
    recorded.pop(str(first), None)
    if imp:
        recorded[str(first)] = {
            "peer": str(second) if second else None,
            **asdict(imp),
            "summary": imp.describe(),
        }
    lab.set_meta(impairments=recorded)
