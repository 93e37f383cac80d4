"""Exercise 12: the telemetry protocol, ACK against no ACK under loss.

The grader runs the student's agent again (the agent.py they ran in the lab) in
both modes at 5 % loss and reads what the lambda server counted.
"""

import subprocess
import sys
from pathlib import Path

from taplab.exercises.grading import Checklist

CHECKS = Checklist()
RECORDS, LOSS = 500, 0.05
NO_ACK_SWITCH, ACK_SWITCH = 101, 102
_runs: dict = {}  # mode -> (delivered, duplicates, rejected, output) of this grading


def _telemetry(lab) -> dict:
    return lab.lambda_api("GET", "/stats")["telemetry"]


def _run_agent(lab, ack: bool) -> tuple[int, int, int, str]:
    """Run the student's agent once; (records delivered, duplicates, rejected, output)."""
    if ack in _runs:
        return _runs[ack]
    agent = lab.meta.get("ran", {}).get("agent.py")
    if not agent or not Path(agent).exists():
        raise LookupError("run your agent first: sudo taplab exercise run 12 agent.py")
    before = _telemetry(lab)
    argv = [sys.executable, agent, "--loss", str(LOSS), "--records", str(RECORDS),
            "--switch-id", str(ACK_SWITCH if ack else NO_ACK_SWITCH), *(["--ack"] if ack else [])]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                          env={"LAB": lab.id, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    after = _telemetry(lab)

    def delta(key):
        return after.get(key, 0) - before.get(key, 0)

    rejected = sum(delta(k) for k in ("truncated", "oversize", "version", "forged", "replayed"))
    output = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or [""]
    _runs[ack] = (delta("events"), delta("duplicates"), rejected, output[0])
    return _runs[ack]


@CHECKS.check("the agent's transactions are valid version-2 telemetry (none rejected)")
def valid(lab):
    try:
        runs = [_run_agent(lab, False), _run_agent(lab, True)]
    except LookupError as exc:
        return False, str(exc)
    rejected = sum(r[2] for r in runs)
    if rejected:
        return False, f"the lambda server rejected {rejected} of the agent's datagrams."
    return True, "every datagram was accepted."


@CHECKS.check("without ACK at 5 % loss, records are lost (80-99.9 % arrive)")
def no_ack_loses(lab):
    delivered, _dup, _rej, output = _run_agent(lab, False)
    if not 0.8 * RECORDS <= delivered < RECORDS:
        return False, f"{delivered} of {RECORDS} records arrived ({output})."
    return True, f"{delivered} of {RECORDS} records arrived: {RECORDS - delivered} lost."


@CHECKS.check("with ACK at 5 % loss, all 500 records arrive, each once", points=3)
def ack_delivers_all(lab):
    delivered, _dup, _rej, output = _run_agent(lab, True)
    if delivered != RECORDS:
        return False, f"{delivered} of {RECORDS} records arrived with ACK ({output})."
    return True, f"all {RECORDS} records arrived once ({output})."


@CHECKS.check("lost ACKs cause retransmissions the server acknowledges but delivers once",
              hidden=True)
def duplicates_once(lab):
    delivered, duplicates, _rej, _out = _run_agent(lab, True)
    if duplicates == 0:
        return False, "the server saw no retransmitted transaction: are lost ACKs retried?"
    if delivered != RECORDS:
        return False, f"{delivered} records delivered for {RECORDS} sent."
    return True, f"{duplicates} retransmissions were acknowledged again, not delivered twice."
