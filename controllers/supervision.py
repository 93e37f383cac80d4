"""Watches a lab's controller process from the lab's own process.

    watch(lab, proc, restart)   # restart() starts a new controller, returns its Popen

When the controller dies while the lab runs, the lab says so at once (on
stderr and in ``lab.controller``: ``state``, ``restarts``,
``last_exit``, shown by ``taplab status``) and starts it again on the same
ports: switches reconnect, and the lambda server reloads the lambdas it had.
After ``RESTARTS`` restarts it stops the lab instead (SIGTERM to the lab's
process), so a lab never goes on forwarding with a dead controller.
"""

import os
import signal
import sys
import threading

from taplab import ready

RESTARTS = 3


def exit_reason(code: int) -> str:
    """'killed by SIGKILL' or 'exit code 1'."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _say(text: str) -> None:
    print(f"taplab: {text}", file=sys.stderr, flush=True)


def watch(lab, proc, restart) -> threading.Thread:
    """Watch proc for lab in a daemon thread (see the module's docstring)."""
    thread = threading.Thread(
        target=_watch, args=(lab, proc, restart), daemon=True, name="controller-watch"
    )
    thread.start()
    return thread


def _stopping(lab) -> bool:
    return lab.state is None or lab.closing


def _watch(lab, proc, restart) -> None:
    restarts = 0
    while True:
        code = proc.wait()
        # A death while the lab starts fails the start (wait_connected says why), and the
        # lab then closes: only the controller of a started lab is restarted.
        ready.until(lambda: lab.started or _stopping(lab), float("inf"), 0.05)
        if _stopping(lab):
            return
        why = exit_reason(code)
        if restarts == RESTARTS:
            _say(
                f"the controller of lab {lab.id} died again ({why}) after {RESTARTS} "
                "restarts: stopping the lab."
            )
            _update(lab, state="dead", last_exit=why)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        restarts += 1
        _say(
            f"the controller of lab {lab.id} died ({why}): restarting it "
            f"({restarts} of {RESTARTS})."
        )
        _update(lab, state="restarting", restarts=restarts, last_exit=why)
        try:
            proc = restart()
        except Exception as exc:  # noqa: BLE001 - any failure to restart stops the lab
            if _stopping(lab):
                return
            _say(f"the controller of lab {lab.id} does not start again ({exc}): stopping the lab.")
            _update(lab, state="dead")
            os.kill(os.getpid(), signal.SIGTERM)
            return
        _update(lab, state="running", pid=proc.pid)
        _say(f"the controller of lab {lab.id} runs again (pid {proc.pid}).")


def _update(lab, **facts) -> None:
    if not _stopping(lab):
        lab.set_meta(controller={**lab.controller, **facts})
