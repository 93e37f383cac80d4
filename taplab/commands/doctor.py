"""``taplab doctor``: what this kernel and these tools can do, and the fallbacks."""

from dataclasses import asdict

from rich.markup import escape

from taplab import capabilities
from taplab.commands import subcommand
from taplab.output import console, print_json, table
from taplab.topologies import overlays


def register(sub) -> None:
    p = subcommand(
        sub,
        "doctor",
        "probe the kernel and tools and say what taplab can do here",
        ["sudo taplab doctor", "sudo taplab doctor --json --refresh"],
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--refresh", action="store_true", help="probe again instead of the boot cache")
    p.set_defaults(func=run)


def builder_paths() -> dict[str, str]:
    """Which path each builder takes on this kernel: the kernel's where it offers one."""
    if capabilities.available("gre"):
        gre = "kernel GRE"
    else:
        gre = "Open vSwitch userspace GRE ports" if overlays.gre_on_ovs() else "unavailable"
    if capabilities.available("ovs_kernel"):
        ovs = "Open vSwitch kernel datapath"
    else:
        ovs = (
            "Open vSwitch userspace datapath"
            if capabilities.available("ovs_user")
            else "unavailable"
        )
    return {"--overlay gre (cluster, spine-leaf)": gre, "--switch ovs (OVS switches)": ovs}


def run(args) -> int:
    features = capabilities.features(refresh=args.refresh)
    if not args.refresh:  # what the cache says is missing, or a daemon gave, asked again
        features = {name: capabilities.feature(name) for name in features}
    paths = builder_paths()
    if args.json:
        print_json(
            {
                "features": {
                    n: {k: v for k, v in asdict(f).items() if k != "name"}
                    for n, f in features.items()
                },
                "paths": paths,
            }
        )
        return 0
    found = table(
        "feature",
        "available",
        "taplab uses instead",
        "how to get it",
        title="taplab doctor: what this machine can do",
    )
    for name, f in features.items():
        mark = "[green]yes[/]" if f.available else "[red]no[/]"
        detail = "" if f.available else escape(f"{f.reason}; {f.fix}")
        instead = escape(f.fallback) if f.fallback else ("" if f.available else "[red]nothing[/]")
        found.add_row(name, mark, instead, detail)
    console.print(found)
    for builder, path in paths.items():
        console.print(f"{builder} uses: [bold]{path}[/]")
    return 0
