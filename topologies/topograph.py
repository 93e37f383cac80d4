"""A checked topology as a networkx graph, written as Graphviz DOT or Mermaid.

Vertices are nodes (role ``node``, ``router``, ``vtep``, ``host``), pods (role
``pod``, with their planned address), the ``underlay`` switch when nodes share
one, and services (role ``service``). Edges are pod attachments, underlay ports,
the file's links (with their CIDR), overlay tunnels (VXLAN with its VNI and
port, GRE) and each service's endpoints::

    dot_text = dot(graph(spec))     # or mermaid(graph(spec)); render(g, path, "png")
"""

import ipaddress
import re
import shutil
import subprocess
from pathlib import Path

import networkx as nx

from taplab.errors import UserError

UNDERLAY = "underlay"
UNDERLAY_KINDS = ("cluster",)
MESH_MAX = 6  # above this many nodes, the overlay is named on the underlay, not meshed
ENDPOINTS_MAX = 12  # a service with more endpoints says "every pod" instead of an edge each
COLOURS = {
    "pod": "#9ecae1",
    "switch": "#bdbdbd",
    "router": "#fdae6b",
    "host": "#a1d99b",
    "vtep": "#c7e9c0",
    "node": "#fdd0a2",
    "service": "#efedf5",
}
SHAPES = {"pod": "ellipse", "switch": "box", "service": "note"}
EDGE_STYLES = {
    "tunnel": 'style=dashed, color="#d62728", fontcolor="#d62728"',
    "service": 'style=dotted, color="#756bb1"',
}


def _pod_addresses(node: dict) -> dict[str, str]:
    """Pods' planned addresses: the node's CIDR after its gateway (.1), in order."""
    try:
        hosts = ipaddress.ip_network(node["cidr"]).hosts()
    except (KeyError, ValueError):
        return {}
    next(hosts, None)  # the node's own address, the pods' gateway
    return {pod: str(next(hosts, "")) for pod in node["pods"]}


def _overlay_label(overlay: dict) -> str:
    kind = overlay.get("type", "")
    if kind == "vxlan":
        return f"VXLAN VNI {overlay.get('vni')} udp/{overlay.get('port', 4789)}"
    return kind.upper() if kind != "host-gw" else ""


def graph(spec: dict) -> nx.Graph:
    g = nx.Graph(name=spec["name"], kind=spec["kind"])
    underlay = spec.get("underlay") if spec["kind"] in UNDERLAY_KINDS else None
    underlay_hosts = ipaddress.ip_network(underlay).hosts() if underlay else iter(())
    for node in spec["nodes"]:
        address = str(next(underlay_hosts, "")) if underlay else ""
        g.add_node(
            node["name"], role=node.get("role", "node"), cidr=node.get("cidr", ""), address=address
        )
        for pod, ip in ({p: "" for p in node["pods"]} | _pod_addresses(node)).items():
            g.add_node(pod, role="pod", address=ip)
            g.add_edge(node["name"], pod, kind="pod")
    overlay = _overlay_label(spec.get("overlay", {}))
    nodes = [n["name"] for n in spec["nodes"]]
    if underlay:
        mesh = overlay and len(nodes) <= MESH_MAX
        g.add_node(UNDERLAY, role="switch", cidr=underlay, address="")
        for name in nodes:
            g.add_edge(UNDERLAY, name, kind="underlay", cidr="" if mesh else overlay)
        for i, a in enumerate(nodes if mesh else []):
            for b in nodes[i + 1 :]:
                g.add_edge(a, b, kind="tunnel", cidr=overlay)
    for link in spec["links"]:
        g.add_edge(link["a"], link["b"], kind="link", cidr=link.get("cidr", ""))
    options = spec.get("options", {})
    encap = options.get("encap", "vxlan-over-gre")  # spine-leaf's encapsulation
    tunnel = options.get("tunnel")
    if (
        "gre" in encap
        and isinstance(tunnel, list)
        and len(tunnel) == 2
        and all(t in g for t in tunnel)
    ):
        g.add_edge(*tunnel, kind="tunnel", cidr=f"GRE {options.get('tunnel_cidr', '')}".strip())
    vteps = [n["name"] for n in spec["nodes"] if n.get("role") == "vtep"]
    if overlay and len(vteps) == 2 and "vxlan" in encap:
        g.add_edge(*vteps, kind="tunnel", cidr=overlay)
    pods = [p for n in spec["nodes"] for p in n["pods"]]
    for svc in spec.get("services", []):
        vertex = f"svc:{svc['name']}"
        endpoints = svc.get("endpoints") or pods
        port = f" node port {svc['node_port']}" if svc.get("node_port") else ""
        g.add_node(
            vertex,
            role="service",
            address=f"{svc['ip']}:{svc['port']}{port}",
            cidr=f"{svc['name']} {svc['type']}",
            every=len(endpoints) > ENDPOINTS_MAX,
        )
        for pod in endpoints if len(endpoints) <= ENDPOINTS_MAX else []:
            g.add_edge(vertex, pod, kind="service", cidr=f":{svc['target_port']}")
    return g


def _label(g: nx.Graph, vertex: str) -> list[str]:
    data = g.nodes[vertex]
    if data["role"] == "service":
        return [data["cidr"], data["address"]] + (["-> every pod"] if data["every"] else [])
    lines = [vertex, data.get("cidr", ""), data.get("address", "")]
    return [ln for ln in lines if ln]


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dot(g: nx.Graph) -> str:
    """Graphviz DOT: one box or ellipse per vertex with its addresses, labelled edges."""
    lines = [
        f"graph {_quote(g.graph['name'])} {{",
        f"  graph [label={_quote(g.graph['name'] + ' (' + g.graph['kind'] + ')')}, "
        'labelloc=t, fontname="Helvetica", overlap=false, splines=true];',
        '  node [fontname="Helvetica", fontsize=10, style=filled];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    for vertex, data in g.nodes(data=True):
        label = "\\n".join(t.replace("\\", "\\\\").replace('"', '\\"') for t in _label(g, vertex))
        lines.append(
            f'  {_quote(vertex)} [label="{label}", '
            f"shape={SHAPES.get(data['role'], 'box')}, "
            f'fillcolor="{COLOURS.get(data["role"], COLOURS["node"])}"];'
        )
    for a, b, data in g.edges(data=True):
        attrs = [f"label={_quote(data['cidr'])}"] if data.get("cidr") else []
        if data["kind"] in EDGE_STYLES:
            attrs.append(EDGE_STYLES[data["kind"]])
        lines.append(
            f"  {_quote(a)} -- {_quote(b)}" + (f" [{', '.join(attrs)}]" if attrs else "") + ";"
        )
    return "\n".join(lines) + "\n}\n"


def _mermaid_id(vertex: str) -> str:
    return "v_" + re.sub(r"\W", "_", vertex)


def mermaid(g: nx.Graph) -> str:
    """A Mermaid flowchart (for Markdown docs): the same vertices, labels and edges."""
    lines = ["flowchart LR", f"  %% {g.graph['name']} ({g.graph['kind']})"]
    for vertex in g:
        text = "<br/>".join(_label(g, vertex)).replace('"', "'")
        lines.append(f'  {_mermaid_id(vertex)}["{text}"]')
    for a, b, data in g.edges(data=True):
        arrow = "-.-" if data["kind"] in EDGE_STYLES else "---"
        label = data.get("cidr", "").replace('"', "'")
        middle = f'{arrow}|"{label}"|' if label else arrow
        lines.append(f"  {_mermaid_id(a)} {middle} {_mermaid_id(b)}")
    return "\n".join(lines) + "\n"


def render(g: nx.Graph, path: Path, fmt: str) -> Path:
    """Draw g into path with Graphviz's dot (fmt: png or svg)."""
    if shutil.which("dot") is None:
        raise UserError(
            "drawing needs Graphviz's dot: run `sudo make install` (or apt-get "
            "install graphviz), or print DOT with --dot."
        )
    try:
        out = open(path, "wb")
    except OSError as exc:
        raise UserError(f"cannot write the drawing to {path}: {exc.strerror}.") from None
    with out:
        proc = subprocess.run(
            ["dot", f"-T{fmt}"],
            input=dot(g).encode(),
            stdout=out,
            stderr=subprocess.PIPE,
            timeout=120,
        )
    if proc.returncode != 0:
        raise UserError(
            f"Graphviz could not draw {path}: {proc.stderr.decode(errors='replace').strip()}."
        )
    return path
