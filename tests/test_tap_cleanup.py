"""Taps belong to their lab: its exit, and ``taplab clean`` after a kill -9, remove them."""

import json
import os
import signal
import subprocess
import sys

from taplab.lab import Lab
from taplab.procs import ProcessId
from taplab.state import LABS_DIR
from taplab.taps import session, testbed
from tests.conftest import lab_leftovers, needs, taplab, wait_for
from tests.tap_helpers import leftovers, live_programs, prog_ids

pytestmark = needs("vxlan", "bcc", "tc_bpf", "xdp")

CHILD = """
import time
from taplab.lab import Lab
from taplab.taps import testbed
with Lab("tap-kill") as lab:
    testbed.build(lab)
    print("READY", lab.id, flush=True)
    while True:
        time.sleep(1)
"""


def processes(records: list[dict]) -> list[int]:
    return [
        r["pid"]
        for t in records
        for r in t["resources"]
        if r["kind"] == "process" and ProcessId(r["pid"], r["started"]).alive()
    ]


def test_lab_exit_removes_attached_taps():
    with Lab("tap-exit") as lab:
        testbed.build(lab)
        records = [
            session.attach(lab, "client", "sidecar", collector="collector"),
            session.attach(lab, "server", "tc-mirred", collector="collector"),
            session.attach(lab, "server", "ebpf", collector="collector", mirror="all"),
            session.attach(lab, "client", "xdp-flowtable"),
        ]
        collector = lab.meta["collectors"]["collector"]
        lab_id = lab.id
        progs = prog_ids(lab, records)
        assert processes(records) and live_programs(progs) == progs
    assert processes(records) == []
    assert not ProcessId(collector["pid"], collector["resources"][0]["started"]).alive()
    assert lab_leftovers(lab_id) == []
    wait_for(lambda: live_programs(progs) == [], timeout=10, what="the BPF programs to go")


def test_taplab_clean_after_kill_9_removes_taps():
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True)
    try:
        ready, lab_id = child.stdout.readline().split()
        assert ready == "READY"
        for args in (
            ["client", "--kind", "sidecar", "--collector", "collector"],
            ["server", "--kind", "ebpf"],
            ["client", "--kind", "xdp-flowtable"],
        ):
            result = taplab("tap", "attach", *args, "--lab", lab_id)
            assert result.returncode == 0, result.stderr
        state = json.loads(taplab("tap", "list", "--json", "--lab", lab_id).stdout)
        assert len(state) == 3
        records = json.loads((LABS_DIR / f"{lab_id}.json").read_text())["meta"]["taps"]
        pids = processes(list(records.values()))
        progs = [
            json.loads(taplab("tap", "stats", t, "--json", "--lab", lab_id).stdout).get("prog_id")
            for t in records
        ]
        progs = [p for p in progs if p]
        assert len(progs) == 2
        assert len(pids) == 3
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert processes(list(records.values())) == pids  # kill -9: nothing cleaned up yet
    cleaned = taplab("clean")
    assert cleaned.returncode == 0, cleaned.stderr
    assert processes(list(records.values())) == []
    assert lab_leftovers(lab_id) == []
    wait_for(lambda: live_programs(progs) == [], timeout=10, what="the BPF programs to go")


def test_detach_leaves_nothing_in_a_lab_that_keeps_running():
    with Lab("tap-detach") as lab:
        testbed.build(lab)
        record = session.attach(lab, "server", "ebpf", collector="collector", mirror="http500")
        [prog] = prog_ids(lab, [record])
        session.detach(lab, record["id"])
        assert wait_for(lambda: leftovers(lab, record, prog) == [], timeout=10, what="cleanup")
        assert lab.node("server").cmd("ping -c1 -W1 10.0.0.1").count("1 received") == 1
