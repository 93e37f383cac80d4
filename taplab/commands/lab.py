"""``taplab lab NAME``: build a topology, open the lab CLI (or run commands), tear down."""

from taplab.commands import subcommand
from taplab.controllers.api_client import load_lambdas, read_lambda_file
from taplab.errors import UserError
from taplab.lab import Lab
from taplab.labcli import LabCLI
from taplab.output import console
from taplab.topologies import registry


def register(sub) -> None:
    p = subcommand(sub, "lab", "build a named topology (or a topology file) and open the lab CLI",
                   ["sudo taplab lab cluster", "sudo taplab lab cluster --run pingall",
                    "sudo taplab lab cluster --pods 3 --run 'pod1 ping -c1 pod3'",
                    "sudo taplab lab my-cluster.yaml"])
    p.add_argument("topology", help="topology name (see `taplab topo list`) or YAML file")
    p.add_argument("--nodes", type=int, help="cluster nodes")
    p.add_argument("--pods", type=int, help="pods per node")
    p.add_argument("--overlay", choices=["vxlan", "gre", "host-gw"], help="pod network overlay")
    p.add_argument("--switch", choices=["lxbr", "ovs"], help="bridges: Linux (lxbr) or OVS")
    p.add_argument("--rules", type=int, help="bridge-policy: iptables rules on the bridge path")
    p.add_argument("--variant", choices=["no-match", "match-top"],
                   help="bridge-policy: no rule matches, or the first rule matches")
    p.add_argument("--controller", action="append", metavar="APP",
                   help="os-ken/Ryu app for OVS switches (file or module; repeatable); "
                        "with --switch ovs the default is taplab's learning switch and lambdas")
    p.add_argument("--lambda", dest="lambdas", action="append", default=[], metavar="FILE",
                   help="lambda file loaded once the lab is up (repeatable; needs --switch ovs)")
    p.add_argument("--run", action="append", metavar="CMD", default=[],
                   help="run a lab CLI command instead of the interactive CLI (repeatable); "
                        "exit 1 if one fails")
    p.set_defaults(func=run)


def topology_options(args) -> dict:
    """The topology options given on the command line."""
    return {"nodes": args.nodes, "pods": args.pods, "overlay": args.overlay,
            "switch": args.switch, "rules": args.rules, "variant": args.variant}


def run(args) -> int:
    # A bad name, file or option fails here, before anything is built.
    build = registry.prepare(args.topology, **topology_options(args))
    name = build.keywords["spec"]["name"]
    lambdas = [read_lambda_file(f) for f in args.lambdas]
    if lambdas and args.switch != "ovs":
        raise UserError("--lambda needs --switch ovs: lambdas run in the OVS controller.")
    # With OVS, an empty app list means taplab's default apps; None means no controller.
    apps = args.controller or ([] if args.switch == "ovs" else None)
    with Lab(name, debug=args.debug, controller_apps=apps) as lab:
        with console.status(f"building {name} ..."):
            build(lab)
            load_lambdas(lab, lambdas)
        return LabCLI(lab).interact_or_run(
            args.run, f"lab {lab.id} ready: type [bold]help[/] for commands, "
                      "[bold]exit[/] to tear it down.")
