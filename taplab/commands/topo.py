"""``taplab topo``: list the named topologies, show one (tree + PNG), check a file."""

from pathlib import Path

from rich.tree import Tree

from taplab.commands import subcommand
from taplab.output import console, print_json
from taplab.topologies import topofile, topograph


def register(sub) -> None:
    p = subcommand(sub, "topo", "list, show and check topologies and topology files",
                   ["taplab topo list", "taplab topo show cluster",
                    "taplab topo show my-cluster.yaml --png my-cluster.png",
                    "taplab topo check my-cluster.yaml"])
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    ls = verbs.add_parser("list", help="the named topologies")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=run_list)
    show = verbs.add_parser("show", help="print a topology as a tree and draw it as a PNG")
    show.add_argument("topology", help="topology name or YAML file")
    show.add_argument("--png", metavar="FILE", help="drawing (default ./<name>.png)")
    show.add_argument("--json", action="store_true", help="print the checked topology as JSON")
    show.set_defaults(func=run_show)
    check = verbs.add_parser("check", help="validate a topology file; exit 2 on an error")
    check.add_argument("file", help="YAML topology file")
    check.set_defaults(func=run_check)


def run_list(args) -> int:
    specs = [topofile.load(name) for name in topofile.names()]
    if args.json:
        print_json({"topologies": [{"name": s["name"], "kind": s["kind"],
                                    "description": s.get("description", "")} for s in specs]})
        return 0
    for spec in specs:
        console.print(f"[bold]{spec['name']}[/]  {spec.get('description', '')}")
    return 0


def tree(spec: dict) -> Tree:
    """The topology as a rich tree: nodes with their pods, overlay, services, links."""
    root = Tree(f"[bold]{spec['name']}[/] ({spec['kind']})")
    if "overlay" in spec:
        root.add("overlay: " + ", ".join(f"{k} {v}" for k, v in spec["overlay"].items()))
    nodes = root.add("nodes")
    for node in spec["nodes"]:
        label = " ".join(str(x) for x in (node["name"], node.get("role", ""), node.get("cidr", ""))
                         if x)
        branch = nodes.add(label)
        for pod in node["pods"]:
            branch.add(pod)
    if spec["services"]:
        services = root.add("services")
        for svc in spec["services"]:
            node_port = f" nodePort {svc['node_port']}" if svc["type"] == "NodePort" else ""
            services.add(f"{svc['name']} {svc['type']} {svc['ip']}:{svc['port']}{node_port} -> "
                         f"{', '.join(svc.get('endpoints', ['every pod']))}:{svc['target_port']}")
    if spec["links"]:
        links = root.add("links")
        for link in spec["links"]:
            links.add(f"{link['a']} -- {link['b']} {link.get('cidr', '')}".strip())
    return root


def run_show(args) -> int:
    spec = topofile.load(args.topology)
    g = topograph.graph(spec)
    png = topograph.draw(g, Path(args.png or f"{spec['name']}.png"))
    if args.json:
        print_json({"topology": spec, "png": str(png), "graph": {
            "nodes": len(g), "edges": g.number_of_edges()}})
        return 0
    console.print(tree(spec))
    console.print(f"{len(g)} vertices, {g.number_of_edges()} edges; drawing: {png}")
    return 0


def run_check(args) -> int:
    spec = topofile.load(args.file)
    console.print(f"{args.file}: ok ({spec['kind']}, {len(spec['nodes'])} nodes, "
                  f"{sum(len(n['pods']) for n in spec['nodes'])} pods, "
                  f"{len(spec['services'])} services, {len(spec['links'])} links)")
    return 0
