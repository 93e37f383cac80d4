"""``taplab grade NN``: check the live lab of an exercise and write Gradescope's results.json.

Exit 0 at full marks, 1 below, 2 when it cannot grade (no lab, a broken
grader); results.json is written in every case.
"""

import json
import signal
import traceback
from pathlib import Path

from rich.markup import escape

from taplab.commands import subcommand
from taplab.errors import UserError
from taplab.exercises import apply, catalog, grading
from taplab.exercises.live import LiveLab
from taplab.lab import LabHandle
from taplab.output import console, errors, print_json, progress
from taplab.output import table as output_table


def register(sub) -> None:
    p = subcommand(
        sub,
        "grade",
        "grade an exercise on its running lab (Gradescope results.json)",
        [
            "sudo taplab grade 01",
            "sudo taplab grade 01 --results /autograder/results/results.json",
            "sudo taplab grade 02 --submission submissions/alice --json",
        ],
    )
    p.add_argument("exercise", help="exercise number, e.g. 01")
    p.add_argument("--lab", metavar="ID", help="lab id when several labs of it are running")
    p.add_argument(
        "--submission",
        metavar="DIR",
        type=Path,
        help="build a fresh lab, run DIR's files in it, grade, tear it down",
    )
    p.add_argument("--results", metavar="FILE", type=Path, help="write Gradescope results.json")
    p.add_argument(
        "--show-hidden",
        action="store_true",
        help="show the reasons of checks hidden until the due date",
    )
    p.add_argument("--json", action="store_true", help="print results.json instead of a table")
    p.set_defaults(func=run)


def _exit_on_signal(signum, _frame):
    raise SystemExit(128 + signum)


def run(args) -> int:
    title = f"exercise {args.exercise}"
    # Killed outright, the grader leaves this 0-point result rather than none.
    _write(args.results, grading.failure_results(title, "grading did not finish."))
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _exit_on_signal)
    try:
        exercise = catalog.get(args.exercise)
        title = exercise.title
        if args.submission:
            outcomes, notes = _grade_submission(exercise, args.submission, args.debug)
        else:
            outcomes, notes = _grade(exercise, exercise.running_lab(args.lab)), []
    except UserError as exc:
        return _cannot_grade(args, title, str(exc))
    except (SystemExit, KeyboardInterrupt) as exc:
        code = exc.code if isinstance(exc, SystemExit) else 130
        _cannot_grade(args, title, f"grading was interrupted (exit {code}).")
        raise
    except Exception as exc:  # noqa: BLE001 - a broken grader still writes results.json
        if args.debug:
            raise
        where = ", ".join(
            f"{Path(f.filename).name}:{f.lineno}"
            for f in traceback.extract_tb(exc.__traceback__)[-9:]
        )
        return _cannot_grade(
            args, title, f"the grader crashed ({type(exc).__name__}: {exc}, in {where})."
        )
    results = grading.results_json(outcomes, title)
    if notes:
        results["output"] += " " + " ".join(notes)
    _write(args.results, results)
    if args.json:
        print_json(results)
    else:
        _print_table(outcomes, results, args.show_hidden)
    score, max_score = grading.total(outcomes)
    return 0 if score >= max_score else 1


def _grade(exercise: catalog.Exercise, handle: LabHandle) -> list[grading.Outcome]:
    checks = exercise.module("check").CHECKS
    with progress(f"grading exercise {exercise.number} ..."):
        return grading.grade(checks, LiveLab(handle))


def _grade_submission(
    exercise: catalog.Exercise, folder: Path, debug: bool
) -> tuple[list[grading.Outcome], list[str]]:
    """Grade a student's files on a lab of their own, removed afterwards."""
    if not folder.is_dir():
        raise UserError(f"no submission folder {folder}.")
    notes = []
    with exercise.open_lab(debug) as lab:
        with progress(f"building the lab of exercise {exercise.number} ..."):
            exercise.build(lab)
        for path in apply.runnable(folder.resolve()):
            try:
                apply.run_file(lab, path)
            except UserError as exc:
                notes.append(str(exc))
        try:
            return _grade(exercise, lab), notes
        finally:  # what the files started through taplab is recorded on disk only
            lab.state.refresh()


def _cannot_grade(args, title: str, why: str) -> int:
    results = grading.failure_results(title, why)
    _write(args.results, results)
    if args.json:
        print_json(results)
    errors.print(f"[bold red]taplab:[/] cannot grade {escape(f'{title}: {why}')}", highlight=False)
    return 2


def _write(path: Path | None, results: dict) -> None:
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=2) + "\n")


def _print_table(outcomes: list[grading.Outcome], results: dict, show_hidden: bool) -> None:
    table = output_table("check", "points", "", "reason", title=results["output"])
    for o in outcomes:
        mark = "[green]✓[/]" if o.passed else "[red]✗[/]"
        reason = o.reason
        if o.check.hidden and not show_hidden:
            mark, reason = "?", "hidden until the due date"
        table.add_row(o.check.description, f"{o.score:g}/{o.check.points:g}", mark, reason)
    console.print(table)
