"""What the demo reads off a running lab: the actions the lambda server recorded."""

import json
import time

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
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise UserError(f"{what} did not come up within {timeout:.0f} s.")
        time.sleep(0.1)
