"""``taplab clean``: remove what labs whose process died left behind, and nothing else.

A lab's record is followed first, in reverse order; then whatever still carries
the lab's id in its name (namespaces, root links, OVS bridges, its folder and
the processes using it) is removed too, so a truncated or damaged record still
gets its lab cleaned. What cannot be removed is reported, and the exit code is 1.
"""

from rich.markup import escape

from taplab.commands import subcommand
from taplab.errors import require_root
from taplab.lab import teardown
from taplab.output import console, print_json
from taplab.resources import describe, owned_by, remove
from taplab.state import LAB_ID, LabState, record_files


def register(sub) -> None:
    p = subcommand(
        sub,
        "clean",
        "remove what crashed or killed labs left behind",
        ["sudo taplab clean", "sudo taplab clean --all   # running labs too"],
    )
    p.add_argument("--all", action="store_true", help="also tear down labs that are still running")
    p.add_argument("--json", action="store_true", help="print what was removed as JSON")
    p.set_defaults(func=run)


def clean_lab(state: LabState) -> tuple[list[str], list[str]]:
    """Remove a dead lab: its record, then what its id names; (removed, failures)."""
    removed: list[str] = []
    failures = teardown(state, log=removed.append)
    if not LAB_ID.match(state.id):  # not a name taplab made: nothing to find by it
        return removed, failures
    for resource in owned_by(state.id, str(state.workdir)):
        try:
            remove(resource)
        except Exception as exc:  # noqa: BLE001 - keep removing the rest
            failures.append(f"{describe(resource)}: {exc}")
        removed.append(describe(resource))
    failures += [
        f"{describe(r)}: still there after removing it"
        for r in owned_by(state.id, str(state.workdir))
    ]
    return removed, failures


def run(args) -> int:
    require_root("taplab clean")
    cleaned, failures = [], []
    for path in record_files():
        state, damage, skipped = LabState.salvage(path)
        if state.owner().alive() and not args.all:
            continue
        removed, failed = clean_lab(state)
        failures += failed + [f"{why} in the record of lab {state.id}" for why in skipped]
        cleaned.append(
            {"lab": state.id, "name": state.name, "removed": removed, "damaged_record": damage}
        )
    if args.json:
        print_json({"cleaned": cleaned, "failures": failures})
    else:
        for lab in cleaned:
            console.print(
                f"removed lab {lab['lab']} ({escape(lab['name'])}): {len(lab['removed'])} resources"
            )
            for why in lab["damaged_record"]:
                console.print(
                    f"  [yellow]its record is damaged[/] ({escape(why)}): "
                    "what carries its id was removed instead"
                )
        if not cleaned:
            console.print("nothing to clean: no lab left anything behind.")
        for failure in failures:
            console.print(f"[red]could not remove[/] {escape(failure)}")
    return 1 if failures else 0
