"""Every exercise: its solution gets full marks on a live lab, its starter does not."""

import json

import pytest

from taplab import capabilities
from taplab.exercises import apply, catalog
from taplab.procs import ProcessId, start_time
from taplab.state import recorded_labs
from tests.conftest import lab_leftovers, needs, taplab
from tests.gradescope import results_problems

EXERCISES = catalog.exercises()


def _skip_unless_possible(exercise: catalog.Exercise) -> None:
    missing = [f for f in exercise.requires if not capabilities.available(f)]
    if missing:
        pytest.skip("; ".join(capabilities.unavailable_reason(f) for f in missing))


def _grade_submission(exercise: catalog.Exercise, folder, tmp_path) -> tuple[int, dict]:
    results = tmp_path / "results.json"
    before = {s.id for s in recorded_labs()}
    result = taplab(
        "grade", exercise.number, "--submission", str(folder), "--results", str(results)
    )
    new = [s for s in recorded_labs() if s.id not in before and s.name == exercise.lab_name]
    assert not new, f"the grading lab was left behind: {new}"
    data = json.loads(results.read_text())
    assert results_problems(data) == []
    return result.returncode, data


@needs("iptables")
@pytest.mark.parametrize("exercise", EXERCISES, ids=[e.path.name for e in EXERCISES])
def test_solution_gets_full_marks(exercise, tmp_path):
    _skip_unless_possible(exercise)
    code, data = _grade_submission(exercise, exercise.solution, tmp_path)
    failed = [(t["name"], t["output"]) for t in data["tests"] if t["status"] != "passed"]
    assert code == 0 and not failed, failed
    assert data["score"] == sum(c.points for c in exercise.module("check").CHECKS)


@needs("iptables")
@pytest.mark.parametrize("exercise", EXERCISES, ids=[e.path.name for e in EXERCISES])
def test_untouched_starter_gets_less(exercise, tmp_path):
    _skip_unless_possible(exercise)
    code, data = _grade_submission(exercise, exercise.path, tmp_path)
    assert code == 1
    assert 0 <= data["score"] < sum(t["max_score"] for t in data["tests"])


@pytest.mark.parametrize("exercise", EXERCISES, ids=[e.path.name for e in EXERCISES])
def test_every_exercise_has_the_same_shape(exercise):
    text = exercise.readme
    for section in (
        "## Goal",
        "## Background",
        "## Steps",
        "## Hints",
        "## Troubleshooting",
        "## Solution",
    ):
        assert section in text, f"{exercise.path.name}/README.md lacks {section}"
    starters = [
        p
        for p in exercise.path.iterdir()
        if p.suffix in (".sh", ".py", ".c") and "TODO" in p.read_text()
    ]
    assert starters, "no starter file with a TODO marker"
    solution = {p.name for p in exercise.solution.iterdir()}
    assert {p.name for p in starters} <= solution, "every starter file has a solved version"
    assert apply.runnable(exercise.solution), "solution/ has nothing to run"
    checks = exercise.module("check").CHECKS
    assert checks and all(c.points > 0 and c.description for c in checks)


@needs("iptables")
def test_start_run_grade_reset_solve_stop_through_the_cli(tmp_path):
    started = taplab("exercise", "start", "01", "--background")
    assert started.returncode == 0, started.stderr
    lab_id = started.stdout.split()[1]
    try:
        assert taplab("grade", "01", "--lab", lab_id).returncode == 1
        starter = catalog.get("01").path / "pod_network.sh"
        assert taplab("exercise", "run", "01", str(starter), "--lab", lab_id).returncode == 0
        assert taplab("grade", "01", "--lab", lab_id).returncode == 1
        assert taplab("exercise", "solve", "01", "--lab", lab_id).returncode == 0
        graded = taplab("grade", "01", "--lab", lab_id, "--json")
        assert graded.returncode == 0, graded.stdout
        points = sum(check.points for check in catalog.get("01").module("check").CHECKS)
        assert json.loads(graded.stdout)["score"] == points
        assert taplab("exercise", "reset", "01", "--lab", lab_id).returncode == 0
        after_reset = json.loads(taplab("grade", "01", "--lab", lab_id, "--json").stdout)
        assert after_reset["score"] == 0
    finally:
        stopped = taplab("exercise", "stop", "01", "--lab", lab_id)
    assert stopped.returncode == 0, stopped.stderr
    assert lab_leftovers(lab_id) == []


def test_list_show_and_bad_numbers():
    listed = taplab("exercise", "list", "--json")
    assert listed.returncode == 0
    numbers = [e["number"] for e in json.loads(listed.stdout)["exercises"]]
    assert numbers == [e.number for e in EXERCISES]
    shown = taplab("exercise", "show", "1")
    assert shown.returncode == 0 and "pod network by hand" in shown.stdout
    bad = taplab("exercise", "show", "99")
    assert bad.returncode == 2 and "no exercise '99'" in bad.stderr
    assert "Traceback" not in bad.stderr


@pytest.mark.parametrize(
    "text, suffix, node",
    [
        ("# node: pod1\necho hi\n", ".sh", "pod1"),
        ("# node: root\n", ".py", apply.ROOT),
        ("# controller app\nimport x\n", ".py", apply.CONTROLLER),
        ("# lambda\n", ".py", apply.LAMBDA),
        ("# controller app\n", ".sh", None),  # only Python files are apps
        ("echo no header\n", ".sh", None),
        ("// node: pod1\n", ".c", None),
    ],
)
def test_file_headers_say_where_a_file_runs(tmp_path, text, suffix, node):
    path = tmp_path / f"f{suffix}"
    path.write_text(text)
    assert apply.node_of(path) == node


@needs("iptables")
def test_reset_stops_a_daemon_a_file_started():
    started = taplab("exercise", "start", "07", "--background")
    assert started.returncode == 0, started.stderr
    lab_id = started.stdout.split()[1]
    try:
        sidecar = catalog.get("07").solution / "sidecar.py"
        assert taplab("exercise", "run", "07", str(sidecar), "--lab", lab_id).returncode == 0
        handle = catalog.get("07").running_lab(lab_id)
        pid = handle.meta["daemons"]["sidecar.py"]["pid"]
        assert ProcessId.of(pid).alive()
        assert taplab("exercise", "reset", "07", "--lab", lab_id).returncode == 0
        assert start_time(pid) is None
        assert catalog.get("07").running_lab(lab_id).meta["daemons"] == {}
    finally:
        stopped = taplab("exercise", "stop", "07", "--lab", lab_id)
    assert stopped.returncode == 0, stopped.stderr
    assert lab_leftovers(lab_id) == []


@needs("iptables", "ovs_user")
@pytest.mark.parametrize("number", ["05", "06"])
def test_stop_after_solve_stops_the_controller_the_solution_started(number):
    started = taplab("exercise", "start", number, "--background")
    assert started.returncode == 0, started.stderr
    lab_id = started.stdout.split()[1]
    try:
        solved = taplab("exercise", "solve", number, "--lab", lab_id)
        assert solved.returncode == 0, solved.stdout + solved.stderr
        controller = catalog.get(number).running_lab(lab_id).meta["controller"]["pid"]
        assert start_time(controller) is not None
    finally:
        stopped = taplab("exercise", "stop", number, "--lab", lab_id)
    assert stopped.returncode == 0, stopped.stderr
    assert start_time(controller) is None, "the solution's controller outlived its lab"
    assert lab_leftovers(lab_id) == []
