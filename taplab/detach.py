"""Labs that run in the background, and stopping them from another terminal.

``taplab lab NAME --detach`` starts the same command again, in a new session,
with ``--hold``: the held lab prints ``READY <id>`` once it is built, sends its
output to ``lab.log`` in its output folder and waits for SIGTERM, on which it
tears down (``taplab lab stop``)::

    lab_id, code = detach.start(["lab", "cluster"])
"""

import os
import signal
import subprocess
import sys

from taplab import ready
from taplab.errors import UserError
from taplab.output import errors
from taplab.state import LabState

READY = "READY"
STOP_TIMEOUT = 60.0


def hold(lab) -> None:
    """Say the lab is ready, then log to its output folder and wait for a signal."""
    sys.stdout.write(f"{READY} {lab.id}\n")
    sys.stdout.flush()
    log = os.open(lab.workdir / "lab.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)  # whoever started us stops reading now
    os.dup2(log, 2)
    os.close(log)
    while True:
        signal.pause()


def start(argv: list[str]) -> tuple[str | None, int]:
    """Run ``taplab ARGV --hold`` in the background: (lab id, 0) once it is ready,
    else (None, its exit code). Its progress and error lines are passed on."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "taplab.cli", *argv, "--hold"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        for line in proc.stdout:
            words = line.split()
            if len(words) == 2 and words[0] == READY:
                proc.stdout.close()
                return words[1], 0
            errors.print(line.rstrip("\n"), markup=False, highlight=False)
        return None, proc.wait() or 1
    except BaseException:  # Ctrl-C while it builds: the lab tears itself down
        proc.terminate()
        proc.wait(STOP_TIMEOUT)
        raise


def stop(state: LabState) -> None:
    """Ask a lab's process to tear the lab down, and wait until it has."""
    owner = state.owner()
    try:
        os.kill(owner.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    if not ready.until(lambda: not owner.alive(), STOP_TIMEOUT, 0.1):
        raise UserError(
            f"lab {state.id} did not stop within {STOP_TIMEOUT:.0f} s: "
            "run `sudo taplab clean --all`."
        )
    if state.path.exists():
        raise UserError(f"lab {state.id} ended without tearing down: run `sudo taplab clean`.")
