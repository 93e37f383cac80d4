"""``taplab lab NAME``: build a topology, open the lab CLI (or run commands), tear down.

With ``--detach`` the lab runs in the background until ``taplab lab stop``; its
nodes are reached with ``taplab exec`` and its state shown by ``taplab status``.
"""

import argparse

from rich.markup import escape

from taplab import detach
from taplab.commands import subcommand
from taplab.controllers.api_client import load_lambdas, read_lambda_file
from taplab.errors import UserError
from taplab.lab import Lab, LabHandle
from taplab.labcli import LabCLI
from taplab.output import console, progress
from taplab.topologies import registry
from taplab.topologies.bridge_policy import VARIANTS
from taplab.topologies.spine_leaf import MTU as SPINE_LEAF_ENCAPS


def register(sub) -> None:
    p = subcommand(
        sub,
        "lab",
        "build a named topology (or a topology file) and open the lab CLI",
        [
            "sudo taplab lab cluster",
            "sudo taplab lab cluster --run pingall",
            "sudo taplab lab cluster --pods 3 --run 'pod1 ping -c1 pod3'",
            "sudo taplab lab my-cluster.yaml",
            "sudo taplab lab cluster --detach   (then: taplab exec pod1, taplab status)",
            "sudo taplab lab stop [ID]          stop a detached lab",
        ],
    )
    p.add_argument(
        "topology",
        metavar="NAME",
        help="topology name (see `taplab topo list`) or YAML file; `stop` stops a detached lab",
    )
    p.add_argument(
        "stop_id",
        nargs="?",
        metavar="ID",
        help="with stop: the lab to stop (default: the only running lab)",
    )
    add_topology_options(p)
    p.add_argument(
        "--controller",
        action="append",
        metavar="APP",
        help="os-ken/Ryu app for OVS switches (file or module; repeatable); "
        "with --switch ovs the default is taplab's learning switch and lambdas",
    )
    p.add_argument(
        "--lambda",
        dest="lambdas",
        action="append",
        default=[],
        metavar="FILE",
        help="lambda file loaded once the lab is up (repeatable; needs --switch ovs)",
    )
    p.add_argument(
        "--output",
        metavar="DIR",
        help="where the lab's output folder <id>-<topology>/ goes "
        "(default $TAPLAB_OUTPUT or ./labs)",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--run",
        action="append",
        metavar="CMD",
        default=[],
        help="run a lab CLI command instead of the interactive CLI (repeatable); "
        "exit 1 if one fails",
    )
    mode.add_argument(
        "--detach",
        action="store_true",
        help="keep the lab running in the background; stop it with `taplab lab stop`",
    )
    mode.add_argument("--hold", action="store_true", help=argparse.SUPPRESS)
    mode.add_argument(
        "--check",
        action="store_true",
        help="run the topology file's checks: once the lab is up, then tear it down "
        "(exit 1 if one fails)",
    )
    p.set_defaults(func=run)


def add_topology_options(p) -> None:
    """The options that size and shape a topology (``lab`` and ``topo show`` share them)."""
    p.add_argument("--nodes", type=int, help="cluster nodes")
    p.add_argument("--pods", type=int, help="pods per node")
    p.add_argument("--overlay", choices=["vxlan", "gre", "host-gw"], help="pod network overlay")
    p.add_argument("--switch", choices=["lxbr", "ovs"], help="bridges: Linux (lxbr) or OVS")
    p.add_argument("--rules", type=int, help="bridge-policy: iptables rules on the bridge path")
    p.add_argument(
        "--variant",
        choices=VARIANTS,
        help="bridge-policy: iptables rules none of which matches, iptables with the first "
        "rule matching, an nftables set, or an eBPF hash map",
    )
    p.add_argument(
        "--encap",
        choices=list(SPINE_LEAF_ENCAPS),
        help="spine-leaf: the encapsulation between the tenants (default vxlan-over-gre)",
    )


def topology_options(args) -> dict:
    """The topology options given on the command line."""
    return {
        "nodes": args.nodes,
        "pods": args.pods,
        "overlay": args.overlay,
        "switch": args.switch,
        "rules": args.rules,
        "variant": args.variant,
        "encap": args.encap,
    }


def run(args) -> int:
    if args.topology == "stop":
        return stop(args.stop_id)
    if args.stop_id:
        raise UserError(
            f"unexpected argument '{args.stop_id}': only `taplab lab stop` takes a lab id."
        )
    # A bad name, file or option fails here, before anything is built.
    build = registry.prepare(args.topology, **topology_options(args))
    name = build.name
    lambdas = [read_lambda_file(f) for f in args.lambdas]
    if lambdas and args.switch != "ovs":
        raise UserError("--lambda needs --switch ovs: lambdas run in the OVS controller.")
    if args.detach:
        return start_detached(args.argv)
    # With OVS, an empty app list means taplab's default apps; None means no controller.
    apps = args.controller or ([] if args.switch == "ovs" else None)
    with Lab(name, debug=args.debug, controller_apps=apps, output=args.output) as lab:
        with progress(f"building {name} ..."):
            build(lab)
            load_lambdas(lab, lambdas)
        if args.hold:
            detach.hold(lab)
        if args.check:
            from taplab.commands.topo import print_checks  # topo imports this module

            return print_checks(lab, build.spec)
        return LabCLI(lab).interact_or_run(
            args.run,
            f"lab {lab.id} ready: type [bold]help[/] for commands, [bold]exit[/] to tear it "
            f"down.\nits files: {escape(str(lab.workdir))}" + rest_api(lab),
        )


def rest_api(lab) -> str:
    """``, Ryu REST API URL`` when the lab's controller apps serve one."""
    url = lab.controller.get("wsapi_url")
    return f", Ryu REST API {url}" if url else ""


def start_detached(argv: list[str]) -> int:
    """Build the lab in a background process; return once it is ready."""
    lab_id, code = detach.start([a for a in argv if a != "--detach"])
    if lab_id is None:
        return code
    lab = LabHandle.find(lab_id)
    console.print(
        f"lab {lab_id} runs in the background; its files are in {lab.workdir}.\n"
        f"  taplab exec NODE [CMD]   a shell or a command in a node\n"
        f"  taplab status {lab_id}     nodes, addresses, ports, taps\n"
        f"  taplab lab stop {lab_id}   tear it down",
        highlight=False,
        markup=False,
    )
    return 0


def stop(lab_id: str | None) -> int:
    handle = LabHandle.find(lab_id)
    detach.stop(handle.state)
    console.print(
        f"lab {handle.id} stopped; its files stay in {handle.workdir}.",
        highlight=False,
        markup=False,
    )
    return 0
