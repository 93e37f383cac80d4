"""What the demo reads off a running lab: the actions the lambda server recorded."""

import json

from taplab import ready
from taplab.errors import UserError


def read_actions(lab) -> list[dict]:
    """Every action the lambda server recorded (``actions.jsonl``), alerts included."""
    path = lab.workdir / "actions.jsonl"
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return []
    return [json.loads(line) for line in lines if line.endswith("}")]


def wait(condition, timeout: float, what: str) -> None:
    if not ready.until(condition, timeout):
        raise UserError(f"{what} did not come up within {timeout:.0f} s.")
