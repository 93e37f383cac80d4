"""Pod-network overlays between cluster nodes: ``vxlan``, ``gre`` and ``host-gw``.

Each node ``i`` has a pod CIDR and an underlay address. Per overlay:

- ``vxlan`` (flannel-like): device ``vxlan0`` (VNI, UDP port, no learning) with
  the node's pod network address as /32; for every other node a permanent
  neighbour entry, a unicast FDB entry to its underlay address and a route to
  its pod CIDR through the device::

      pod1 -- cni0 -- vxlan0 ==UDP/4789, VNI== vxlan0 -- cni0 -- pod3
              node1 (192.168.0.1)               node2 (192.168.0.2)

- ``gre``: one kernel GRE (L3) device per peer, ``gre<j>``, routes to the
  peer's pod CIDR through it; where the kernel lacks GRE, Open vSwitch's
  userspace GRE ports on one bridge ``gre0`` per node (``ovs_gre``);
- ``host-gw``: a route to each peer's pod CIDR via its underlay address.

``MTU`` gives the pod MTU each overlay leaves out of a 1500-byte underlay.
"""

import ipaddress
from dataclasses import dataclass

from taplab import capabilities
from taplab.errors import UserError
from taplab.topologies import ovs_gre

MTU = {"vxlan": 1450, "gre": 1476, "host-gw": 1500}
VXLAN_DEV = "vxlan0"
OVS_GRE_DEV = "gre0"


@dataclass
class NodeNet:
    """What an overlay needs to know about one node."""

    name: str
    index: int  # 1-based
    host: object  # the Mininet host
    cidr: str
    underlay_ip: str
    underlay_dev: str

    @property
    def network_address(self) -> str:
        return str(ipaddress.ip_network(self.cidr).network_address)

    @property
    def gateway(self) -> str:
        return str(ipaddress.ip_network(self.cidr).network_address + 1)

    @property
    def vtep_mac(self) -> str:
        return f"02:00:0a:f4:{self.index // 256:02x}:{self.index % 256:02x}"


def gre_on_ovs() -> bool:
    """GRE through Open vSwitch's userspace datapath: the kernel lacks GRE, OVS runs."""
    return not capabilities.available("gre") and capabilities.available("ovs_user")


def check_available(
    kind: str, what: str = "the {kind} overlay", instead: str | None = "--overlay host-gw"
) -> None:
    """Fail before building when the kernel lacks what overlay kind needs."""
    needed = {"vxlan": "vxlan", "gre": "gre"}.get(kind)
    if kind == "gre" and gre_on_ovs():
        return
    if needed and not capabilities.available(needed):
        f = capabilities.feature(needed)
        if instead and kind == "gre":
            instead += " or vxlan"
        raise UserError(
            f"{what.format(kind=kind)} is unavailable: {f.reason}; {f.fix}"
            + (f", or use {instead}." if instead else ".")
        )


def setup(lab, kind: str, nodes: list[NodeNet], vni: int = 1, port: int = 4789) -> None:
    """Connect the pod networks of nodes with overlay kind."""
    scripts = {"vxlan": _vxlan, "gre": _gre, "host-gw": _host_gw}
    if kind == "gre" and gre_on_ovs():
        ovs_gre.connect(
            lab,
            [
                ovs_gre.End(
                    node.host,
                    node.underlay_dev,
                    [
                        ovs_gre.Tunnel(f"gre{peer.index}", peer.underlay_ip, [peer.cidr])
                        for peer in nodes
                        if peer is not node
                    ],
                )
                for node in nodes
            ],
            OVS_GRE_DEV,
            MTU["gre"],
        )
        scripts["gre"] = _routes_to_ovs_gre
    for node in nodes:
        peers = [p for p in nodes if p is not node]
        _run(node.host, scripts[kind](node, peers, vni, port))


def _run(host, lines: list[str]) -> None:
    out = host.cmd(" && ".join(lines) + " && echo overlay-ok") if lines else "overlay-ok"
    if "overlay-ok" not in out:
        raise RuntimeError(f"overlay setup failed on {host.name}: {out.strip()}")


def _vxlan(node: NodeNet, peers: list[NodeNet], vni: int, port: int) -> list[str]:
    lines = [
        f"ip link add {VXLAN_DEV} type vxlan id {vni} dstport {port} "
        f"local {node.underlay_ip} dev {node.underlay_dev} nolearning",
        f"ip link set {VXLAN_DEV} address {node.vtep_mac} mtu {MTU['vxlan']} up",
        f"ip addr add {node.network_address}/32 dev {VXLAN_DEV}",
    ]
    for peer in peers:
        lines += [
            f"ip neigh replace {peer.network_address} lladdr {peer.vtep_mac} "
            f"dev {VXLAN_DEV} nud permanent",
            f"bridge fdb append {peer.vtep_mac} dev {VXLAN_DEV} dst {peer.underlay_ip}",
            f"ip route replace {peer.cidr} via {peer.network_address} dev {VXLAN_DEV} onlink",
        ]
    return lines


def _gre(node: NodeNet, peers: list[NodeNet], vni: int, port: int) -> list[str]:
    lines = []
    for peer in peers:
        dev = f"gre{peer.index}"
        lines += [
            f"ip link add {dev} type gre local {node.underlay_ip} remote {peer.underlay_ip} ttl 64",
            f"ip link set {dev} mtu {MTU['gre']} up",
            f"ip route replace {peer.cidr} dev {dev} src {node.gateway}",
        ]
    return lines


def _routes_to_ovs_gre(node: NodeNet, peers: list[NodeNet], vni: int, port: int) -> list[str]:
    return [f"ip route replace {peer.cidr} dev {OVS_GRE_DEV} src {node.gateway}" for peer in peers]


def _host_gw(node: NodeNet, peers: list[NodeNet], vni: int, port: int) -> list[str]:
    return [f"ip route replace {peer.cidr} via {peer.underlay_ip}" for peer in peers]
