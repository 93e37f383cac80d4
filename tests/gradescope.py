"""The shape of Gradescope's ``results.json``, checked by the grading tests (taplab
only writes the file; Gradescope's autograder reads it)."""

from typing import Any

STATUSES = ("passed", "failed")
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")


def results_problems(data: Any) -> list[str]:
    """What makes data an invalid Gradescope ``results.json`` (empty when valid)."""
    if not isinstance(data, dict):
        return ["results.json must be a JSON object"]
    problems = []
    if not isinstance(data.get("score"), int | float):
        problems.append("top-level 'score' must be a number")
    tests = data.get("tests")
    if not isinstance(tests, list) or not tests:
        return [*problems, "'tests' must be a non-empty list"]
    for i, test in enumerate(tests):
        where = f"tests[{i}]"
        if not isinstance(test, dict):
            problems.append(f"{where} must be an object")
            continue
        if not isinstance(test.get("name"), str) or not test.get("name"):
            problems.append(f"{where}.name must be a non-empty string")
        for key in ("score", "max_score"):
            if not isinstance(test.get(key), int | float):
                problems.append(f"{where}.{key} must be a number")
        if test.get("status") not in STATUSES:
            problems.append(f"{where}.status must be one of {STATUSES}")
        if not isinstance(test.get("output"), str):
            problems.append(f"{where}.output must be a string")
        if test.get("visibility") not in VISIBILITIES:
            problems.append(f"{where}.visibility must be one of {VISIBILITIES}")
    if data.get("visibility", "visible") not in VISIBILITIES:
        problems.append(f"visibility must be one of {VISIBILITIES}")
    return problems
