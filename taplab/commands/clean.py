"""``taplab clean``: remove what labs whose process died left behind, and nothing else."""

from taplab.commands import subcommand
from taplab.errors import require_root
from taplab.lab import teardown
from taplab.output import console, print_json
from taplab.state import recorded_labs


def register(sub) -> None:
    p = subcommand(sub, "clean", "remove what crashed or killed labs left behind",
                   ["sudo taplab clean", "sudo taplab clean --all   # running labs too"])
    p.add_argument("--all", action="store_true", help="also tear down labs that are still running")
    p.add_argument("--json", action="store_true", help="print what was removed as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    require_root("taplab clean")
    cleaned, failures = [], []
    for state in recorded_labs():
        if state.owner().alive() and not args.all:
            continue
        removed = []
        failures += teardown(state, log=removed.append)
        cleaned.append({"lab": state.id, "name": state.name, "removed": removed})
    if args.json:
        print_json({"cleaned": cleaned, "failures": failures})
    else:
        for lab in cleaned:
            console.print(f"removed lab {lab['lab']} ({lab['name']}): "
                          f"{len(lab['removed'])} resources")
        if not cleaned:
            console.print("nothing to clean: no lab left anything behind.")
        for failure in failures:
            console.print(f"[red]could not remove[/] {failure}")
    return 1 if failures else 0
