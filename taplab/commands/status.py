"""``taplab status [ID]``: the labs that are recorded; for one lab, its nodes and
their addresses, the controller's ports, the taps and the files in its output folder."""

import json
from pathlib import Path

from rich.markup import escape

from taplab.commands import subcommand
from taplab.errors import UserError
from taplab.lab import LabHandle
from taplab.output import console, print_json
from taplab.output import table as output_table
from taplab.state import LabState, recorded_labs


def register(sub) -> None:
    p = subcommand(
        sub,
        "status",
        "list labs; with an id, one lab's nodes, ports, taps and files",
        ["taplab status", "sudo taplab status t1ab", "taplab status --json"],
    )
    p.add_argument("lab", nargs="?", metavar="ID", help="show this lab in detail")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def summary(state: LabState) -> dict:
    return {
        "id": state.id,
        "name": state.name,
        "running": state.owner().alive(),
        "nodes": sorted(state.nodes),
        "resources": len(state.resources),
        "output": str(state.output) if state.output else None,
    }


def addresses(lab: LabHandle, node: str) -> list[str]:
    """A node's interfaces with their addresses (``eth0 10.0.0.1/24``), loopback left out."""
    found = []
    for intf in json.loads(lab.sh(node, ["ip", "-j", "addr", "show"], check=False) or "[]"):
        if intf.get("ifname") == "lo":
            continue
        addrs = [
            f"{a['local']}/{a['prefixlen']}"
            for a in intf.get("addr_info", [])
            if a.get("scope") != "link"
        ]
        found.append(" ".join([intf["ifname"], *addrs]))
    return found


def detail(lab: LabHandle) -> dict:
    """Everything a second terminal needs to work with a running lab."""
    controller = lab.controller
    taps = []
    for tap in lab.meta.get("taps", {}).values():
        names = [tap["id"], *([f"collector-{tap['collector']}"] if tap.get("collector") else [])]
        files = sorted(str(p) for n in names for p in lab.workdir.glob(f"{n}.*"))
        taps.append(
            {
                "id": tap["id"],
                "kind": tap["kind"],
                "where": f"{tap['target']['node']}:{tap['target']['intf']}",
                "files": files,
            }
        )
    return {
        **summary(lab.state),
        "nodes": {n: addresses(lab, n) for n in sorted(lab.nodes)},
        "controller": {
            k: controller[k]
            for k in (
                "openflow_port",
                "wsapi_url",
                "api_url",
                "telemetry_port",
                "log",
                "state",
                "restarts",
                "last_exit",
            )
            if k in controller
        },
        "taps": taps,
        "files": sorted(
            str(p.relative_to(lab.workdir)) for p in lab.workdir.rglob("*") if p.is_file()
        ),
    }


def run(args) -> int:
    if args.lab:
        return show(args)
    labs = [summary(s) for s in recorded_labs()]
    if args.json:
        print_json({"labs": labs})
        return 0
    table = output_table("id", "topology", "state", "nodes", "output folder", title="taplab labs")
    for lab in labs:
        state = "[green]running[/]" if lab["running"] else "[red]dead: run taplab clean[/]"
        table.add_row(
            lab["id"],
            escape(lab["name"]),
            state,
            " ".join(lab["nodes"]),
            escape(lab["output"] or "-"),
        )
    console.print(table if labs else "no labs.")
    return 0


def show(args) -> int:
    try:
        lab = LabHandle.find(args.lab)
    except UserError:
        if any(s.id == args.lab for s in recorded_labs()):
            raise UserError(
                f"lab {args.lab} is not running: `sudo taplab clean` removes what it left."
            ) from None
        raise
    info = detail(lab)
    if args.json:
        print_json(info)
        return 0
    console.print(
        f"lab [bold]{lab.id}[/] ({escape(info['name'])}), files in {escape(str(lab.workdir))}",
        highlight=False,
    )
    nodes = output_table("node", "interfaces and addresses", box=None)
    for node, intfs in info["nodes"].items():
        nodes.add_row(node, escape(", ".join(intfs)))
    console.print(nodes)
    if info["controller"]:
        c = info["controller"]
        console.print(
            f"controller: OpenFlow port {c.get('openflow_port')}"
            + (f", Ryu REST API {c['wsapi_url']}" if "wsapi_url" in c else "")
            + (f", API {c['api_url']}" if "api_url" in c else "")
            + (f", telemetry UDP {c['telemetry_port']}" if "telemetry_port" in c else "")
            + (
                f"; {c['state']}, {c['restarts']} restart(s) (last exit: {c['last_exit']})"
                if "restarts" in c
                else ""
            ),
            highlight=False,
        )
    if info["taps"]:
        taps = output_table("tap", "kind", "where", "files", box=None)
        for tap in info["taps"]:
            taps.add_row(
                tap["id"],
                tap["kind"],
                tap["where"],
                escape("\n".join(Path(f).name for f in tap["files"]) or "-"),
            )
        console.print(taps)
    return 0
