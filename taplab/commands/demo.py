"""``taplab demo``: build a small lab, show it working, tear it down."""

from taplab.commands import subcommand
from taplab.lab import Lab
from taplab.labcli import LabCLI
from taplab.output import console
from taplab.topologies import registry


def register(sub) -> None:
    p = subcommand(sub, "demo", "build a small cluster, ping across it, tear it down",
                   ["sudo taplab demo"])
    p.set_defaults(func=run)


def run(args) -> int:
    with Lab("demo", debug=args.debug) as lab:
        with console.status("building a one-node cluster with two pods ..."):
            registry.build(lab, "cluster")
        failures = LabCLI(lab).run_script(["pingall"])
    console.print("[green]demo finished; everything was removed.[/]" if not failures
                  else "[red]demo failed: pods could not reach each other.[/]")
    return 1 if failures else 0
