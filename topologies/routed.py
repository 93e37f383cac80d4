"""Routers and hosts on point-to-point links, with static routes along shortest paths.

A topology file's ``links`` become veth links; with a ``cidr``, the ``a`` end
gets the first address and the ``b`` end the second (``10.0.1.1`` and
``10.0.1.2`` for ``10.0.1.0/24``). ``static_routes`` gives every node a route
to every link network it is not on, via the neighbour on a shortest path
(hop count) of the topology graph: the routing a student would type by hand.
"""

import ipaddress
from dataclasses import dataclass, field

import networkx as nx


@dataclass
class Addressed:
    """Each node's address on each of its links: node -> {neighbour: (ip, prefixlen, intf)}."""

    ports: dict[str, dict[str, tuple[str, int, str]]] = field(default_factory=dict)
    networks: dict[str, list[str]] = field(default_factory=dict)  # node -> attached CIDRs

    def address(self, node: str, neighbour: str) -> str:
        return self.ports[node][neighbour][0]


def add_links(lab, hosts: dict, links: list[dict]) -> Addressed:
    """Create the links, addressed when they carry a CIDR; return who has which address."""
    out = Addressed()
    for link in links:
        made = lab.add_link(hosts[link["a"]], hosts[link["b"]])
        if "cidr" not in link:
            continue
        net = ipaddress.ip_network(link["cidr"])
        for end, intf, offset in (("a", made.intf1, 1), ("b", made.intf2, 2)):
            node, other = link[end], link["b" if end == "a" else "a"]
            ip = str(net.network_address + offset)
            flags = " nodad" if net.version == 6 else ""
            intf.node.cmd(f"ip addr add {ip}/{net.prefixlen} dev {intf}{flags}")
            if net.version == 4:
                intf.ip, intf.prefixLen = ip, net.prefixlen
            out.ports.setdefault(node, {})[other] = (ip, net.prefixlen, intf.name)
            out.networks.setdefault(node, []).append(link["cidr"])
    return out


def static_routes(links: list[dict], addressed: Addressed) -> dict[str, list[tuple[str, str]]]:
    """node -> [(cidr, next-hop address)] for every link network not attached to node."""
    g = nx.Graph()
    for link in links:
        if "cidr" in link:
            g.add_edge(link["a"], link["b"], cidr=link["cidr"])
    routes: dict[str, list[tuple[str, str]]] = {}
    paths = dict(nx.all_pairs_shortest_path(g))
    for node in g:
        for a, b, data in g.edges(data=True):
            if data["cidr"] in addressed.networks.get(node, []):
                continue
            target = min((a, b), key=lambda t: len(paths[node][t]))
            hop = paths[node][target][1]
            routes.setdefault(node, []).append((data["cidr"], addressed.address(hop, node)))
    return routes


def install_routes(hosts: dict, routes: dict[str, list[tuple[str, str]]]) -> None:
    for node, entries in routes.items():
        for cidr, via in entries:
            family = "-6 " if ":" in cidr else ""
            hosts[node].cmd(f"ip {family}route replace {cidr} via {via}")
