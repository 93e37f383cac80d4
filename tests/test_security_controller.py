"""A lab's controller is supervised: when it dies the lab says so at once, restarts it on
the same ports with its lambdas, and stops the lab when it keeps dying."""

import json
import os
import signal
import subprocess
import sys
import textwrap

from taplab.controllers.api_client import ControllerClient
from taplab.controllers.supervision import RESTARTS, exit_reason
from taplab.lab import Lab
from taplab.state import LABS_DIR
from tests.conftest import needs, taplab, wait_for
from tests.test_security_lambda import lambda_pids

pytestmark = needs("ovs_user")

WATCH = """
import os, time
from taplab.lambdas import on, Alert

@on("tap")
def seen(event, ctx):
    if event.src == "10.6.6.6" and os.fork() == 0:  # a survivor, in a session of its own
        os.setsid()
        while True:
            time.sleep(1)
    return Alert("seen", src=event.src)
"""


def test_exit_reasons_read_as_words():
    assert exit_reason(-9) == "killed by SIGKILL" and exit_reason(1) == "exit code 1"


def controller_pid(lab) -> int:
    lab.state.refresh()
    return lab.meta["controller"]["pid"]


def test_a_killed_controller_is_reported_and_restarted_with_its_lambdas(capfd):
    with Lab("supervised", controller_apps=[]) as lab:
        switch = lab.add_switch("s1", kind="ovs")
        for i in (1, 2):
            lab.add_link(lab.add_host(f"pod{i}", ip=f"10.0.0.{i}/24"), switch)
        lab.start()
        client = ControllerClient.for_lab(lab)
        before = lambda_pids()
        client.request("POST", "/lambdas", {"name": "watch", "source": WATCH})
        client.request("POST", "/events", {"kind": "tap", "src": "10.6.6.6"})
        old = wait_for(
            lambda: len(lambda_pids() - before) == 2 and lambda_pids() - before,
            timeout=10,
            what="the worker and its survivor",
        )
        first = controller_pid(lab)
        os.kill(first, signal.SIGKILL)
        wait_for(
            lambda: "died (killed by SIGKILL): restarting it" in capfd.readouterr().err,
            timeout=5,
            what="the lab to say the controller died",
        )
        wait_for(
            lambda: controller_pid(lab) != first and lab.meta["controller"]["state"] == "running",
            timeout=40,
            what="a new controller",
        )
        assert client.request("GET", "/health")["pid"] == controller_pid(lab)
        wait_for(
            lambda: not any(os.path.exists(f"/proc/{pid}") for pid in old),
            timeout=10,
            what="the dead controller's worker and survivor to be gone",
        )
        names = [w["name"] for w in client.request("GET", "/lambdas")["lambdas"]]
        assert names == ["watch"]
        client.request("POST", "/events", {"kind": "tap", "src": "10.9.9.9"})
        wait_for(
            lambda: any(
                a.get("src") == "10.9.9.9" for a in client.request("GET", "/actions")["actions"]
            ),
            timeout=10,
            what="the reloaded lambda to act",
        )
        wait_for(
            lambda: lab.net.pingAll(timeout=1) == 0,
            timeout=30,
            what="new flows to forward through the new controller",
        )
        status = taplab("status", lab.id, env={**os.environ, "COLUMNS": "300"})
        assert "running, 1 restart(s) (last exit: killed by SIGKILL)" in status.stdout, (
            status.stdout
        )


CHILD = textwrap.dedent("""
    import time
    from taplab.lab import Lab, LabHandle
    with Lab("dies-often", controller_apps=[]) as lab:
        lab.add_link(lab.add_host("pod1"), lab.add_switch("s1", kind="ovs"))
        lab.start()
        print("READY", lab.id, flush=True)
        while True:
            time.sleep(0.2)
""")


def recorded_controller(lab_id: str) -> dict:
    """The controller's facts as the lab last recorded them ({} once the lab is gone);
    read without the lab's lock, which would outlive the lab."""
    try:
        return json.loads((LABS_DIR / f"{lab_id}.json").read_text())["meta"]["controller"]
    except (FileNotFoundError, ValueError, KeyError):
        return {}


def test_a_controller_that_keeps_dying_stops_the_lab():
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        lab_id = child.stdout.readline().split()[1]
        for _ in range(RESTARTS + 1):
            pid = recorded_controller(lab_id)["pid"]
            os.kill(pid, signal.SIGKILL)
            wait_for(
                lambda p=pid: (
                    child.poll() is not None
                    or recorded_controller(lab_id).get("state") == "running"
                    and recorded_controller(lab_id)["pid"] != p
                ),
                timeout=40,
                what="a restart, or the lab to stop",
            )
        assert child.wait(60) != 0
        err = child.stderr.read()
        assert f"after {RESTARTS} restarts: stopping the lab" in err, err
        assert not recorded_controller(lab_id)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
            taplab("clean")
