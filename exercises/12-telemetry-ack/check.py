"""Exercise 12: the telemetry protocol, ACK against no ACK under loss.

The grader runs the student's agent again (the agent.py they ran in the lab) in
both modes, confined, in a namespace where the only way to the lambda server is
a relay the grader controls: the agent's own loss is off (``--loss 0``) and the
relay loses 5 % of the datagrams each way. From the server's counters and the
relay's log, the checks see what the agent did, not what it printed: whether it
resent exactly the transactions whose datagram or ACK was lost.
"""

import subprocess
import time
from collections import defaultdict
from pathlib import Path

from taplab.exercises.apply import ROOT, Privileges, command, student_env
from taplab.exercises.grading import Checklist
from taplab.exercises.live import wait_until
from taplab.exercises.udp_relay import LossyRelay
from taplab.shell import in_netns

CHECKS = Checklist()
PRIVILEGES = Privileges(caps=(), reads=("telemetry_key_file",))  # UDP and the lab's key
RECORDS, LOSS = 500, 0.05
NO_ACK_SWITCH, ACK_SWITCH = 101, 102
NEEDLESS = 0.1  # resent although nothing was lost: what timeouts under load explain
SETTLE_TIMEOUT = 10.0
_runs: dict = {}  # mode -> Run of this grading


class Run:
    """One run of the agent: the server's counts and the relay's log, per transaction."""

    def __init__(self, delivered: int, rejected: int, output: str, log):
        self.delivered, self.rejected, self.output = delivered, rejected, output
        self.copies: dict = defaultdict(int)  # seq -> data datagrams the agent sent
        self.lost: dict = defaultdict(int)  # seq -> datagrams or ACKs the relay dropped
        self.acked: set = set()  # seqs whose ACK reached the agent
        for _t, way, fate, _switch, seq, count in log:
            if way == "up" and count:
                self.copies[seq] += 1
            self.lost[seq] += fate == "dropped"
            if way == "down" and fate == "sent" and not count:
                self.acked.add(seq)

    def needless(self) -> int:
        """Transactions sent more than once although neither copy nor ACK was lost."""
        return sum(1 for seq, n in self.copies.items() if n > 1 and not self.lost[seq])

    def abandoned(self) -> int:
        """Transactions whose datagram or ACK was lost and that never got an ACK through."""
        return sum(1 for seq in self.copies if self.lost[seq] and seq not in self.acked)


def _telemetry(lab) -> dict:
    return lab.lambda_server().stats()["telemetry"]


def _settled(lab) -> dict | None:
    """The server's counters once they stop moving (it has read what was relayed)."""
    first = _telemetry(lab)
    time.sleep(0.3)
    second = _telemetry(lab)
    return second if second == first else None


def _run_agent(lab, ack: bool) -> Run:
    """Run the student's agent once through the grader's lossy relay."""
    if ack in _runs:
        return _runs[ack]
    agent = lab.meta.get("ran", {}).get("agent.py")
    if not agent or not Path(agent).exists():
        raise LookupError("run your agent first: sudo taplab exercise run 12 agent.py")
    controller = lab.handle.controller
    before = _telemetry(lab)
    with LossyRelay(lab.handle, controller["telemetry_port"], LOSS, seed=12 + ack) as relay:
        args = ["--loss", "0", "--records", str(RECORDS)]
        args += ["--switch-id", str(ACK_SWITCH if ack else NO_ACK_SWITCH), *["--ack"] * ack]
        argv, cwd = command(lab.handle, ROOT, Path(agent), trusted=False, args=args)
        proc = subprocess.run(
            in_netns(argv, relay.netns),
            capture_output=True,
            text=True,
            timeout=180,
            cwd=cwd,
            env=student_env(lab.handle),
            start_new_session=True,
        )
    after = wait_until(lambda: _settled(lab), SETTLE_TIMEOUT) or _telemetry(lab)

    def delta(key):
        return after.get(key, 0) - before.get(key, 0)

    rejected = sum(delta(k) for k in ("truncated", "oversize", "version", "forged", "replayed"))
    output = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or [""]
    _runs[ack] = Run(delta("events"), rejected, output[0], relay.log)
    return _runs[ack]


@CHECKS.check("the agent's transactions are valid version-2 telemetry (none rejected)")
def valid(lab):
    try:
        runs = [_run_agent(lab, False), _run_agent(lab, True)]
    except LookupError as exc:
        return False, str(exc)
    rejected = sum(r.rejected for r in runs)
    if rejected:
        return False, f"the lambda server rejected {rejected} of the agent's datagrams."
    return True, "every datagram was accepted."


@CHECKS.check("without ACK at 5 % loss, records are lost (80-99.9 % arrive)")
def no_ack_loses(lab):
    run = _run_agent(lab, False)
    if not 0.8 * RECORDS <= run.delivered < RECORDS:
        return False, f"{run.delivered} of {RECORDS} records arrived ({run.output})."
    return True, f"{run.delivered} of {RECORDS} records arrived: {RECORDS - run.delivered} lost."


@CHECKS.check("with ACK at 5 % loss, all 500 records arrive, each once", points=3)
def ack_delivers_all(lab):
    run = _run_agent(lab, True)
    if run.delivered != RECORDS:
        return False, f"{run.delivered} of {RECORDS} records arrived with ACK ({run.output})."
    return True, f"all {RECORDS} records arrived once ({run.output})."


@CHECKS.check(
    "the agent reads the ACKs: it resends a transaction when, and only when, "
    "its datagram or its ACK was lost",
    hidden=True,
)
def resends_on_loss_only(lab):
    run = _run_agent(lab, True)
    lost = sum(1 for seq in run.copies if run.lost[seq])
    if not run.copies:
        return False, "the agent sent nothing through the grader's relay."
    if run.abandoned():
        return False, (
            f"{run.abandoned()} of the {lost} transactions that lost a datagram or "
            "an ACK were never acknowledged: lost ACKs must be retried."
        )
    if run.needless() > NEEDLESS * len(run.copies):
        return False, (
            f"{run.needless()} of {len(run.copies)} transactions were sent again "
            "although nothing was lost: wait for the ACK before resending."
        )
    return True, (
        f"the {lost} transactions that lost a datagram or an ACK were resent until "
        f"acknowledged; {run.needless()} resent needlessly (timeouts)."
    )
