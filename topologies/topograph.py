"""A checked topology as a networkx graph, and its drawing.

Vertices are nodes (role ``node``, ``router``, ``host``, ...), pods (role
``pod``) and, when nodes share an underlay, the ``underlay`` switch; edges are
pod-to-node attachments, underlay ports and the file's links (with their CIDR).
"""

from pathlib import Path

import networkx as nx

UNDERLAY = "underlay"
UNDERLAY_KINDS = ("cluster",)


def graph(spec: dict) -> nx.Graph:
    g = nx.Graph(name=spec["name"], kind=spec["kind"])
    for node in spec["nodes"]:
        g.add_node(node["name"], role=node.get("role", "node"), cidr=node.get("cidr", ""))
        for pod in node["pods"]:
            g.add_node(pod, role="pod")
            g.add_edge(node["name"], pod, kind="pod")
    if spec["kind"] in UNDERLAY_KINDS:
        g.add_node(UNDERLAY, role="switch", cidr=spec.get("underlay", ""))
        for node in spec["nodes"]:
            g.add_edge(UNDERLAY, node["name"], kind="underlay")
    for link in spec["links"]:
        g.add_edge(link["a"], link["b"], kind="link", cidr=link.get("cidr", ""))
    tunnel = spec.get("options", {}).get("tunnel")
    if isinstance(tunnel, list) and len(tunnel) == 2 and all(t in g for t in tunnel):
        g.add_edge(*tunnel, kind="tunnel", cidr="GRE " + spec["options"].get("tunnel_cidr", ""))
    return g


COLOURS = {"pod": "#9ecae1", "switch": "#bdbdbd", "router": "#fdae6b", "host": "#a1d99b"}


def draw(g: nx.Graph, path: Path) -> Path:
    """Write a PNG drawing of g to path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    size = max(6, min(20, len(g) ** 0.5 * 2))
    fig, ax = plt.subplots(figsize=(size, size * 0.75))
    pos = nx.spring_layout(g, seed=1)  # numpy only (kamada_kawai needs scipy)
    colours = [COLOURS.get(g.nodes[n].get("role"), "#fdd0a2") for n in g]
    nx.draw_networkx(g, pos, ax=ax, node_color=colours, font_size=8,
                     node_size=600 if len(g) < 60 else 150, with_labels=len(g) < 120)
    labels = {(a, b): d["cidr"] for a, b, d in g.edges(data=True) if d.get("cidr")}
    nx.draw_networkx_edge_labels(g, pos, edge_labels=labels, ax=ax, font_size=7)
    ax.set_title(f"{g.graph['name']} ({g.graph['kind']})")
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
