"""``taplab lab NAME``: build a topology, open the lab CLI (or run commands), tear down."""

from taplab.commands import subcommand
from taplab.lab import Lab
from taplab.labcli import LabCLI
from taplab.output import console
from taplab.topologies import registry


def register(sub) -> None:
    p = subcommand(sub, "lab", "build a named topology and open the lab CLI",
                   ["sudo taplab lab cluster", "sudo taplab lab cluster --run pingall",
                    "sudo taplab lab cluster --pods 3 --run 'pod1 ping -c1 pod3'"])
    p.add_argument("topology", help="topology name (see `taplab topo list`)")
    p.add_argument("--nodes", type=int, help="cluster nodes")
    p.add_argument("--pods", type=int, help="pods per node")
    p.add_argument("--overlay", choices=["vxlan", "gre", "host-gw"], help="pod network overlay")
    p.add_argument("--switch", choices=["lxbr", "ovs"], help="bridges: Linux (lxbr) or OVS")
    p.add_argument("--controller", action="append", metavar="APP",
                   help="os-ken/Ryu app for OVS switches (file or module; repeatable); "
                        "with --switch ovs the default is taplab's learning switch and lambdas")
    p.add_argument("--run", action="append", metavar="CMD", default=[],
                   help="run a lab CLI command instead of the interactive CLI (repeatable); "
                        "exit 1 if one fails")
    p.set_defaults(func=run)


def topology_options(args) -> dict:
    """The topology options given on the command line."""
    return {"nodes": args.nodes, "pods": args.pods, "overlay": args.overlay,
            "switch": args.switch}


def run(args) -> int:
    registry.builder(args.topology)  # an unknown name fails before anything is built
    # With OVS, an empty app list means taplab's default apps; None means no controller.
    apps = args.controller or ([] if args.switch == "ovs" else None)
    with Lab(args.topology, debug=args.debug, controller_apps=apps) as lab:
        with console.status(f"building {args.topology} ..."):
            registry.build(lab, args.topology, **topology_options(args))
        cli = LabCLI(lab)
        if not args.run:
            console.print(f"lab {lab.id} ready: type [bold]help[/] for commands, "
                          "[bold]exit[/] to tear it down.")
            cli.interact()
            return 0
        failures = cli.run_script(args.run)
    for line in failures:
        console.print(f"[red]failed:[/] {line}")
    return 1 if failures else 0
