"""What the demo reads off a running lab: the actions its lambda server applied."""

from taplab import ready
from taplab.controllers.api_client import ControllerClient
from taplab.errors import UserError


def read_actions(lab) -> list[dict]:
    """Every action the lab's lambda server applied, alerts included ([] without one)."""
    if not lab.has_lambda_server:
        return []
    return ControllerClient.for_lab(lab).actions()


def wait(condition, timeout: float, what: str) -> None:
    if not ready.until(condition, timeout):
        raise UserError(f"{what} did not come up within {timeout:.0f} s.")
