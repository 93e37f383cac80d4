"""``taplab exercise``: list, read, start, solve, reset and stop graded exercises."""

from pathlib import Path

from rich.markdown import Markdown
from rich.markup import escape

from taplab import detach
from taplab.commands import subcommand
from taplab.errors import UserError
from taplab.exercises import apply, baseline, catalog
from taplab.labcli import LabCLI
from taplab.output import console, print_json, progress
from taplab.output import table as output_table


def register(sub) -> None:
    p = subcommand(
        sub,
        "exercise",
        "graded exercises: read, start a lab, solve, reset",
        [
            "taplab exercise list",
            "taplab exercise show 01",
            "sudo taplab exercise start 01",
            "sudo taplab exercise start 01 --background",
            "sudo taplab exercise run 01 exercises/01-pod-by-hand/pod_network.sh",
            "sudo taplab exercise solve 01",
            "sudo taplab exercise reset 01",
            "sudo taplab exercise stop 01",
        ],
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="the exercises and what they need")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=list_exercises)
    show = actions.add_parser("show", help="print an exercise's README")
    show.add_argument("exercise", help="number, e.g. 01")
    show.set_defaults(func=show_exercise)
    start = actions.add_parser("start", help="build the exercise's starting lab")
    start.add_argument("exercise", help="number, e.g. 01")
    mode = start.add_mutually_exclusive_group()
    mode.add_argument(
        "--background",
        action="store_true",
        help="keep the lab running in the background (stop it with `stop`)",
    )
    mode.add_argument(
        "--hold",
        action="store_true",
        help="print 'READY <lab id>' and keep the lab until Ctrl-C or SIGTERM",
    )
    mode.add_argument(
        "--run",
        action="append",
        metavar="CMD",
        default=[],
        help="run a lab CLI command instead of the interactive CLI (repeatable)",
    )
    start.set_defaults(func=start_lab)
    for name, help_text, func in (
        ("solve", "reset the running lab, then apply the solution", solve),
        ("reset", "bring the running lab back to its starting state", reset),
        ("stop", "stop a lab started with --background", stop),
    ):
        action = actions.add_parser(name, help=help_text)
        action.add_argument("exercise", help="number, e.g. 01")
        action.add_argument("--lab", metavar="ID", help="lab id when several are running")
        action.set_defaults(func=func)
    run_files = actions.add_parser("run", help="run your files in the nodes they name")
    run_files.add_argument("exercise", help="number, e.g. 01")
    run_files.add_argument("files", nargs="+", type=Path, help="files with a '# node:' line")
    run_files.add_argument("--lab", metavar="ID", help="lab id when several are running")
    run_files.set_defaults(func=run_student_files)


def list_exercises(args) -> int:
    rows = []
    for ex in catalog.exercises():
        checks = ex.module("check").CHECKS
        rows.append(
            {
                "number": ex.number,
                "title": ex.title,
                "folder": str(ex.path),
                "checks": len(checks),
                "points": sum(c.points for c in checks),
                "requires": list(ex.requires),
            }
        )
    if args.json:
        print_json({"exercises": rows})
        return 0
    table = output_table("#", "exercise", "checks", "points", "needs", title="taplab exercises")
    for row in rows:
        title = row["title"].removeprefix(f"Exercise {row['number']}: ")
        table.add_row(
            row["number"],
            title,
            str(row["checks"]),
            f"{row['points']:g}",
            " ".join(row["requires"]),
        )
    console.print(table)
    return 0


def show_exercise(args) -> int:
    console.print(Markdown(catalog.get(args.exercise).readme))
    return 0


def start_lab(args) -> int:
    exercise = catalog.get(args.exercise)
    if args.background:
        return _start_in_background(exercise, args.debug)
    with exercise.open_lab(args.debug) as lab:
        with progress(f"building the lab of exercise {exercise.number} ..."):
            exercise.build(lab)
        if args.hold:
            detach.hold(lab)
        return LabCLI(lab).interact_or_run(
            args.run,
            f"lab {lab.id} of exercise {exercise.number} ready; in another "
            f"terminal: `sudo taplab grade {exercise.number}`. "
            "Type [bold]exit[/] to tear it down.",
        )


def _start_in_background(exercise: catalog.Exercise, debug: bool) -> int:
    argv = [*(["--debug"] if debug else []), "exercise", "start", exercise.number]
    lab_id, code = detach.start(argv)
    if lab_id is None:
        return code
    console.print(
        f"lab {lab_id} of exercise {exercise.number} runs in the background: "
        f"`sudo taplab grade {exercise.number}`, then "
        f"`sudo taplab exercise stop {exercise.number}`."
    )
    return 0


def solve(args) -> int:
    exercise = catalog.get(args.exercise)
    handle = exercise.running_lab(args.lab)
    _reset(handle)
    files = apply.run_folder(handle, exercise.solution, trusted=True)
    console.print(
        f"applied the solution of exercise {exercise.number} to lab {handle.id}: "
        + ", ".join(p.name for p in files)
    )
    return 0


def run_student_files(args) -> int:
    exercise = catalog.get(args.exercise)
    handle = exercise.running_lab(args.lab)
    for path in args.files:
        if not path.is_file():
            raise UserError(f"no file {path}.")
        console.print(apply.run_file(handle, path.resolve()), end="", markup=False)
        console.print(f"ran {path.name} in {apply.node_of(path)}", markup=False)
    return 0


def reset(args) -> int:
    exercise = catalog.get(args.exercise)
    handle = exercise.running_lab(args.lab)
    _reset(handle)
    console.print(f"lab {handle.id} is back at the start of exercise {exercise.number}.")
    return 0


def _reset(handle) -> None:
    """Stop the daemons files started, then restore the network's starting state."""
    apply.stop_daemons(handle)
    baseline.restore(handle)


def stop(args) -> int:
    exercise = catalog.get(args.exercise)
    handle = exercise.running_lab(args.lab)
    detach.stop(handle.state)
    console.print(
        f"lab {handle.id} of exercise {exercise.number} stopped; its files stay in "
        f"{escape(str(handle.workdir))}."
    )
    return 0
