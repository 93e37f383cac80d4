"""Grading: checks, Gradescope results.json (also when grading fails), exit codes."""

import argparse
import json
from pathlib import Path

import pytest

from taplab.commands import grade
from taplab.exercises import catalog, grading
from taplab.state import recorded_labs
from tests.conftest import needs, taplab
from tests.gradescope import results_problems


def _checks() -> grading.Checklist:
    checks = grading.Checklist()

    @checks.check("always true", points=2)
    def ok(lab):
        return True, "fine"

    @checks.check("always false", points=3, hidden=True)
    def nope(lab):
        return False, "the bridge is missing"

    @checks.check("broken check")
    def broken(lab):
        raise KeyError("cni0")

    return checks


def test_outcomes_score_and_a_crashing_check_fails_with_its_error():
    outcomes = grading.grade(_checks(), lab=None)
    assert [o.passed for o in outcomes] == [True, False, False]
    assert grading.total(outcomes) == (2, 6)
    assert "KeyError" in outcomes[2].reason and "cni0" in outcomes[2].reason


def test_results_json_has_gradescope_fields_and_hidden_visibility():
    results = grading.results_json(grading.grade(_checks(), lab=None), "Exercise 99")
    assert results_problems(results) == []
    assert results["score"] == 2
    assert [t["status"] for t in results["tests"]] == ["passed", "failed", "failed"]
    assert [t["max_score"] for t in results["tests"]] == [2, 3, 1]
    assert results["tests"][1]["visibility"] == "after_due_date"
    assert results["tests"][0]["visibility"] == "visible"
    json.dumps(results)  # serialisable


def test_failure_results_are_valid_and_score_zero():
    results = grading.failure_results("Exercise 99", "no lab is running")
    assert results_problems(results) == []
    assert results["score"] == 0 and "no lab is running" in results["tests"][0]["output"]


@pytest.mark.parametrize(
    "bad, problem",
    [
        ([], "JSON object"),
        ({"score": "10", "tests": [{}]}, "'score' must be a number"),
        ({"score": 1, "tests": []}, "non-empty list"),
        (
            {
                "score": 1,
                "tests": [
                    {
                        "name": "x",
                        "score": 1,
                        "max_score": 1,
                        "status": "ok",
                        "output": "",
                        "visibility": "visible",
                    }
                ],
            },
            "status",
        ),
        (
            {
                "score": 1,
                "tests": [
                    {
                        "name": "x",
                        "score": 1,
                        "max_score": 1,
                        "status": "passed",
                        "output": "",
                        "visibility": "students",
                    }
                ],
            },
            "visibility",
        ),
    ],
)
def test_the_validator_rejects_what_gradescope_would(bad, problem):
    assert any(problem in p for p in results_problems(bad))


def test_unknown_exercise_exit_2_with_results(tmp_path):
    results = tmp_path / "results.json"
    result = taplab("grade", "77", "--results", str(results))
    assert result.returncode == 2
    assert "no exercise '77'" in result.stderr and "Traceback" not in result.stderr
    data = json.loads(results.read_text())
    assert results_problems(data) == [] and data["score"] == 0


@needs("iptables")
def test_no_running_lab_exit_2_with_results(tmp_path):
    results = tmp_path / "out" / "results.json"
    running = [s for s in recorded_labs() if s.name == "exercise-01" and s.owner().alive()]
    if running:
        pytest.skip("a lab of exercise 01 is running on this machine")
    result = taplab("grade", "01", "--results", str(results), "--json")
    assert result.returncode == 2
    data = json.loads(results.read_text())
    assert json.loads(result.stdout) == data
    assert results_problems(data) == [] and data["score"] == 0
    assert "no lab of exercise 01 is running" in data["tests"][0]["output"]


def _broken_exercise(tmp_path: Path) -> catalog.Exercise:
    folder = tmp_path / "98-broken"
    folder.mkdir()
    (folder / "README.md").write_text("# Exercise 98: a grader that crashes\n")
    (folder / "lab.py").write_text("def build(lab):\n    lab.add_host('h1')\n    lab.start()\n")
    (folder / "check.py").write_text("CHECKS = undefined_name\n")
    return catalog.Exercise("98", "broken", folder)


@needs("iptables")
def test_a_crashing_grader_still_writes_results_and_removes_its_lab(tmp_path, monkeypatch, capsys):
    exercise = _broken_exercise(tmp_path)
    monkeypatch.setattr(catalog, "get", lambda name: exercise)
    results = tmp_path / "results.json"
    args = argparse.Namespace(
        exercise="98",
        lab=None,
        submission=tmp_path,
        results=results,
        show_hidden=False,
        json=False,
        debug=False,
    )
    before = {s.id for s in recorded_labs()}
    assert grade.run(args) == 2
    data = json.loads(results.read_text())
    assert results_problems(data) == []
    assert data["score"] == 0 and "NameError" in data["tests"][0]["output"]
    assert "undefined_name" in capsys.readouterr().err
    assert not [s for s in recorded_labs() if s.id not in before and s.name == "exercise-98"]
