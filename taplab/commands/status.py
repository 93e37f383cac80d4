"""``taplab status``: the labs that are running, their nodes and what they recorded."""

from rich.table import Table

from taplab.commands import subcommand
from taplab.output import console, print_json
from taplab.state import recorded_labs


def register(sub) -> None:
    p = subcommand(sub, "status", "list labs: running or left behind, with their nodes",
                   ["taplab status", "taplab status --json"])
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    labs = [{"id": s.id, "name": s.name, "running": s.owner().alive(),
             "nodes": sorted(s.meta.get("nodes", {})), "resources": len(s.resources)}
            for s in recorded_labs()]
    if args.json:
        print_json({"labs": labs})
        return 0
    table = Table(title="taplab labs")
    for column in ("id", "topology", "state", "nodes", "resources"):
        table.add_column(column)
    for lab in labs:
        state = "[green]running[/]" if lab["running"] else "[red]dead: run taplab clean[/]"
        table.add_row(lab["id"], lab["name"], state, " ".join(lab["nodes"]), str(lab["resources"]))
    console.print(table if labs else "no labs.")
    return 0
