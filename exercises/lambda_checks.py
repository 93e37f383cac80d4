"""Checks shared by the exercises whose answer is a lambda (10, 11)."""

from taplab.exercises.grading import Checklist
from taplab.exercises.live import LiveLab, wait_until


def add_first_checks(checks: Checklist, client: str, client_ip: str, url: str) -> None:
    """The two checks every lambda exercise starts with: a packet_in lambda is loaded
    (1 point), and ten ordinary requests from client to url raise no alert (2 points)."""
    checks.check("a lambda for packet_in events is loaded in the lambda server")(lambda_loaded)
    checks.check("ten ordinary connections from client raise no alert", points=2)(
        lambda lab: ordinary_client_not_flagged(lab, client, client_ip, url)
    )


def lambda_loaded(lab: LiveLab) -> tuple[bool, str]:
    found = lab.lambdas("packet_in")
    if not found:
        return False, "no lambda handles packet_in events (taplab exercise run NN FILE)."
    return True, f"loaded: {', '.join(w['name'] for w in found)}."


def ordinary_client_not_flagged(
    lab: LiveLab, client: str, client_ip: str, url: str, times: int = 10
) -> tuple[bool, str]:
    """times ordinary HTTP requests from client raise no alert about it."""

    def invocations():
        return sum(w["invocations"] for w in lab.lambdas("packet_in"))

    before = invocations()
    answers = lab.http_get(client, url, times)
    if len(answers) != times or any(a.startswith("error:") for a in answers):
        return False, f"the client's requests failed ({answers[-1:]}): fix connectivity first."
    # The switch copies each connection's SYN up: wait until the lambda saw them.
    wait_until(lambda: invocations() >= before + times, 5.0)
    if lab.alerts(client_ip):
        return False, f"the client's {times} ordinary connections raised an alert."
    return True, "no alert for the client."
