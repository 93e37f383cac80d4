"""Checks, grades and Gradescope's ``results.json``.

A grader (an exercise's ``check.py``) is a list of small checks, each a fact
about the live lab with the points it is worth::

    CHECKS = Checklist()

    @CHECKS.check("pod1 has 10.244.1.2/24 on eth0", points=2)
    def pod1_address(lab):
        return "10.244.1.2/24" in lab.addresses("pod1", "eth0"), "eth0 of pod1 has ..."

A check returns ``(passed, reason)``; the reason is written for the student.
A check that raises fails with the error as its reason; the others still run.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Gradescope's visibility values: hidden checks show up after the due date.
VISIBLE, AFTER_DUE_DATE = "visible", "after_due_date"


@dataclass(frozen=True)
class Check:
    """One fact about the lab, worth points; hidden ones are shown after the due date."""

    description: str
    points: float
    run: Callable[[Any], tuple[bool, str]]
    hidden: bool = False


class Checklist(list[Check]):
    """The checks of one exercise, in the order they are graded and shown."""

    def check(self, description: str, points: float = 1, hidden: bool = False) -> Callable:
        """Decorator: add ``fn(lab) -> (passed, reason)`` as a check."""

        def add(fn: Callable[[Any], tuple[bool, str]]) -> Callable:
            self.append(Check(description, points, fn, hidden))
            return fn

        return add


@dataclass(frozen=True)
class Outcome:
    """What one check found."""

    check: Check
    passed: bool
    reason: str

    @property
    def score(self) -> float:
        return self.check.points if self.passed else 0.0


def run_check(check: Check, lab: Any) -> Outcome:
    """Run one check; a check that crashes fails with the error as its reason."""
    try:
        passed, reason = check.run(lab)
    except Exception as exc:  # noqa: BLE001 - a broken check must not stop the others
        return Outcome(
            check,
            False,
            f"the grader could not run this check "
            f"({type(exc).__name__}: {exc}); tell your instructor.",
        )
    return Outcome(check, bool(passed), str(reason))


def grade(checks: list[Check], lab: Any) -> list[Outcome]:
    """Run every check against the lab, in order."""
    return [run_check(check, lab) for check in checks]


def total(outcomes: list[Outcome]) -> tuple[float, float]:
    """(score, max score)."""
    return sum(o.score for o in outcomes), sum(o.check.points for o in outcomes)


def results_json(outcomes: list[Outcome], title: str) -> dict[str, Any]:
    """Gradescope's autograder ``results.json`` for these outcomes."""
    score, max_score = total(outcomes)
    tests = [
        {
            "name": o.check.description,
            "score": o.score,
            "max_score": o.check.points,
            "status": "passed" if o.passed else "failed",
            "output": o.reason,
            "visibility": AFTER_DUE_DATE if o.check.hidden else VISIBLE,
        }
        for o in outcomes
    ]
    return {
        "score": score,
        "output": f"{title}: {score:g} of {max_score:g} points.",
        "visibility": VISIBLE,
        "stdout_visibility": VISIBLE,
        "tests": tests,
    }


def failure_results(title: str, why: str) -> dict[str, Any]:
    """``results.json`` for a lab that could not be graded (no lab, grader crashed): 0 points."""
    message = f"{title} could not be graded: {why}"
    return {
        "score": 0.0,
        "output": message,
        "visibility": VISIBLE,
        "stdout_visibility": VISIBLE,
        "tests": [
            {
                "name": "grading",
                "score": 0.0,
                "max_score": 0.0,
                "status": "failed",
                "output": message,
                "visibility": VISIBLE,
            }
        ],
    }
