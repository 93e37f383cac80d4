"""``taplab topo``: list the named topologies, show one (a tree; DOT, Mermaid or a
Graphviz drawing on request), check a file."""

from pathlib import Path

from rich.markup import escape
from rich.tree import Tree

from taplab.commands import subcommand
from taplab.commands.lab import add_topology_options, topology_options
from taplab.lab import LabHandle
from taplab.output import console, print_json
from taplab.topologies import cluster, registry, startup, topofile, topograph


def register(sub) -> None:
    p = subcommand(
        sub,
        "topo",
        "list, show and check topologies and topology files",
        [
            "taplab topo list",
            "taplab topo show cluster",
            "taplab topo show cluster --nodes 3 --pods 2 --svg cluster.svg",
            "taplab topo show spine-leaf --dot        DOT text, for dot -Tpdf and friends",
            "taplab topo show my-cluster.yaml --mermaid     a Mermaid chart for Markdown",
            "taplab topo check my-cluster.yaml",
        ],
    )
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    ls = verbs.add_parser("list", help="the named topologies")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=run_list)
    show = verbs.add_parser(
        "show", help="print a topology as a tree, as DOT or Mermaid, or draw it with Graphviz"
    )
    show.add_argument("topology", help="topology name or YAML file")
    add_topology_options(show)
    drawing = show.add_mutually_exclusive_group()
    drawing.add_argument("--png", metavar="FILE", help="draw it into a PNG file (Graphviz)")
    drawing.add_argument("--svg", metavar="FILE", help="draw it into an SVG file (Graphviz)")
    drawing.add_argument("--dot", action="store_true", help="print Graphviz DOT")
    drawing.add_argument("--mermaid", action="store_true", help="print a Mermaid flowchart")
    drawing.add_argument("--json", action="store_true", help="print the checked topology as JSON")
    show.set_defaults(func=run_show)
    check = verbs.add_parser(
        "check",
        help="validate a topology file (every error, with "
        "its line; exit 2), or run its checks: on a running lab",
    )
    check.add_argument("file", help="YAML topology file (format: topologies/topology.schema.json)")
    check.add_argument("--lab", metavar="ID", help="run the file's checks: on this running lab")
    check.set_defaults(func=run_check)


def run_list(args) -> int:
    specs = [topofile.load(name) for name in topofile.names()]
    if args.json:
        print_json(
            {
                "topologies": [
                    {"name": s["name"], "kind": s["kind"], "description": s.get("description", "")}
                    for s in specs
                ]
            }
        )
        return 0
    for spec in specs:
        console.print(f"[bold]{escape(spec['name'])}[/]  {escape(spec.get('description', ''))}")
    return 0


def tree(spec: dict) -> Tree:
    """The topology as a rich tree: nodes with their pods, overlay, services, links."""
    root = Tree(f"[bold]{spec['name']}[/] ({spec['kind']})")
    if "overlay" in spec:
        root.add("overlay: " + ", ".join(f"{k} {v}" for k, v in spec["overlay"].items()))
    nodes = root.add("nodes")
    for node in spec["nodes"]:
        label = " ".join(
            str(x) for x in (node["name"], node.get("role", ""), node.get("cidr", "")) if x
        )
        branch = nodes.add(label)
        for pod in node["pods"]:
            branch.add(pod)
    if spec["services"]:
        services = root.add("services")
        for svc in spec["services"]:
            node_port = f" nodePort {svc['node_port']}" if svc["type"] == "NodePort" else ""
            services.add(
                f"{svc['name']} {svc['type']} {svc['ip']}:{svc['port']}{node_port} -> "
                f"{', '.join(svc.get('endpoints', ['every pod']))}:{svc['target_port']}"
            )
    if spec["links"]:
        links = root.add("links")
        for link in spec["links"]:
            links.add(f"{link['a']} -- {link['b']} {link.get('cidr', '')}".strip())
    return root


def shown(args) -> dict:
    """The topology as ``taplab lab`` with the same options would build it."""
    build = registry.prepare(args.topology, **topology_options(args))
    spec, options = build.spec, build.options
    if spec["kind"] == "cluster":
        spec = cluster.with_defaults(
            cluster.resize(spec, options.get("nodes"), options.get("pods"))
        )
    if options.get("overlay"):
        spec = {**spec, "overlay": {**spec.get("overlay", {}), "type": options["overlay"]}}
    if options.get("encap"):
        spec = {**spec, "options": {**spec.get("options", {}), "encap": options["encap"]}}
    return spec


def run_show(args) -> int:
    spec = shown(args)
    g = topograph.graph(spec)
    if args.json:
        print_json({"topology": spec, "graph": {"nodes": len(g), "edges": g.number_of_edges()}})
    elif args.dot or args.mermaid:
        print((topograph.dot if args.dot else topograph.mermaid)(g), end="")
    else:
        drawing = None  # drawn first: a path it cannot write to is the only output
        if args.png or args.svg:
            drawing = topograph.render(g, Path(args.png or args.svg), "png" if args.png else "svg")
        console.print(tree(spec))
        if drawing:
            console.print(
                f"{len(g)} vertices, {g.number_of_edges()} edges; drawing: {drawing}",
                markup=False,
                highlight=False,
            )
    return 0


def print_checks(lab, spec: dict) -> int:
    """Run the file's checks on lab, print each; 0 when all pass, 1 otherwise."""
    results = startup.run_checks(lab, spec)
    for description, passed, reason in results:
        mark = "[green]✓[/]" if passed else "[red]✗[/]"
        console.print(f"{mark} {escape(description)}: {escape(reason)}", highlight=False)
    failed = sum(not passed for _d, passed, _r in results)
    console.print(f"{len(results) - failed} of {len(results)} checks passed.")
    return 1 if failed else 0


def run_check(args) -> int:
    spec = topofile.load(args.file)
    if args.lab:
        return print_checks(LabHandle.find(args.lab), spec)
    console.print(
        f"{args.file}: ok ({spec['kind']}, {len(spec['nodes'])} nodes, "
        f"{sum(len(n['pods']) for n in spec['nodes'])} pods, "
        f"{len(spec['services'])} services, {len(spec['links'])} links)"
    )
    return 0
