"""``taplab clean``: remove what labs whose process died left behind, and nothing else.

A lab's record is followed first, in reverse order; then whatever still carries
the lab's id in its name (its lambda workers' cgroups, namespaces, root links,
OVS bridges, its folder and the processes using it) is removed too, so a
truncated or damaged record still gets its lab cleaned. What cannot be removed
is reported, and the exit code is 1.
"""

from rich.markup import escape

from taplab.commands import subcommand
from taplab.errors import require_root
from taplab.lab import teardown
from taplab.output import console, print_json
from taplab.resources import describe, leftovers, owned_by, remove
from taplab.state import LAB_ID, LABS_DIR, LabState, created_ids, record_files


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
    swept, failed = sweep(state.id, str(state.workdir))
    return removed + swept, failures + failed


def sweep(lab_id: str, workdir: str) -> tuple[list[str], list[str]]:
    """Remove whatever still carries lab_id; (removed, failures)."""
    removed, failures = [], []
    for resource in owned_by(lab_id, workdir):
        try:
            remove(resource)
        except Exception as exc:  # noqa: BLE001 - keep removing the rest
            failures.append(f"{describe(resource)}: {exc}")
        removed.append(describe(resource))
    left = owned_by(lab_id, workdir)
    return removed, failures + [f"{describe(r)}: still there after removing it" for r in left]


def clean_forgotten() -> tuple[list[dict], list[str]]:
    """Remove what labs created here left although their record is gone (a record
    deleted by hand, a process the lab did not know it had)."""
    ids = created_ids()  # first: a lab created from now on is not forgotten
    recorded = {path.stem for path in record_files()}
    workdirs = {i: str(LABS_DIR / i) for i in ids if i not in recorded}
    cleaned, failures = [], []
    for lab_id, found in leftovers(workdirs).items():
        if found:
            removed, failed = sweep(lab_id, workdirs[lab_id])
            failures += failed
            cleaned.append(
                {
                    "lab": lab_id,
                    "name": "?",
                    "removed": removed,
                    "damaged_record": ["its record is gone"],
                }
            )
    return cleaned, failures


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
    forgotten, failed = clean_forgotten()
    cleaned += forgotten
    failures += failed
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
