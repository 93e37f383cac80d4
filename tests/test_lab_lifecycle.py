"""The Lab removes everything it created, and only that: on exit, Ctrl-C and kill -9."""

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from taplab.procs import ProcessId
from taplab.state import LABS_DIR
from tests.conftest import TAPLAB, lab_leftovers, needs, netns_names, ovs_bridges, taplab, wait_for

pytestmark = needs("ovs_user")


@pytest.fixture
def foreign():
    """A namespace, a bridge and a process taplab did not create (and must not touch)."""
    subprocess.run(["ip", "netns", "add", "foreign-ns"], check=True)
    subprocess.run(["ip", "link", "add", "foreignbr", "type", "bridge"], check=True)
    proc = subprocess.Popen(["sleep", "1000"])
    yield proc
    proc.kill()
    proc.wait()
    subprocess.run(["ip", "netns", "delete", "foreign-ns"])
    subprocess.run(["ip", "link", "delete", "foreignbr"])


def start_child() -> tuple[subprocess.Popen, str, list[dict]]:
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.lab_child", "wait-forever"], stdout=subprocess.PIPE, text=True
    )
    line = child.stdout.readline().split()
    assert line and line[0] == "READY", "the lab did not start"
    lab_id = line[1]
    resources = json.loads((LABS_DIR / f"{lab_id}.json").read_text())["resources"]
    return child, lab_id, resources


def assert_foreign_untouched(proc):
    assert "foreign-ns" in netns_names()
    assert subprocess.run(["ip", "link", "show", "foreignbr"], capture_output=True).returncode == 0
    assert proc.poll() is None


def assert_all_gone(lab_id, resources):
    assert lab_leftovers(lab_id) == []
    for r in resources:
        if r["kind"] == "process":
            assert not ProcessId(r["pid"], r["started"]).alive(), r


def test_kill_9_then_clean_removes_the_lab_and_nothing_else(foreign):
    child, lab_id, resources = start_child()
    kinds = {r["kind"] for r in resources}
    assert {"netns", "ovs_bridge", "process", "path"} <= kinds
    assert any(b.startswith(lab_id) for b in ovs_bridges())
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert lab_leftovers(lab_id), "kill -9 should leave the lab behind for taplab clean"
    result = taplab("clean")
    assert result.returncode == 0, result.stdout + result.stderr
    assert lab_id in result.stdout
    assert_all_gone(lab_id, resources)
    assert_foreign_untouched(foreign)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_tears_down_without_clean(foreign, sig):
    child, lab_id, resources = start_child()
    child.send_signal(sig)
    child.wait(timeout=60)
    assert_all_gone(lab_id, resources)
    assert_foreign_untouched(foreign)


def test_clean_leaves_running_labs_alone(foreign):
    child, lab_id, _resources = start_child()
    try:
        taplab("clean")
        assert wait_for(lambda: f"{lab_id}-pod1" in netns_names(), timeout=2)
    finally:
        child.send_signal(signal.SIGINT)
        child.wait(timeout=60)
    assert lab_leftovers(lab_id) == []


def _sensor_ready(lab_id: str) -> bool:
    """Whether detect's sensor in node1 says it captures (in the lab's output folder)."""
    output = json.loads((LABS_DIR / f"{lab_id}.json").read_text())["meta"]["output"]
    return any("# ready" in p.read_text() for p in Path(output).glob("sensor-node1-*.jsonl"))


def test_detect_ends_with_a_sentence_when_its_lab_stops():
    child, lab_id, _resources = start_child()
    detect = subprocess.Popen(
        [*TAPLAB, "detect", "--lab", lab_id, "--node", "node1", "--time", "300", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: _sensor_ready(lab_id), timeout=60, what="the sensor in node1")
        child.send_signal(signal.SIGTERM)
        child.wait(timeout=60)
        out, err = detect.communicate(timeout=60)
    finally:
        detect.kill()
        if child.poll() is None:  # the test failed before stopping the lab
            child.send_signal(signal.SIGINT)
            child.wait(timeout=60)
    assert detect.returncode == 1, err
    assert "internal error" not in err and "Traceback" not in err
    assert f"lab {lab_id} stopped while detecting" in err
    result = json.loads(out)
    assert result["lab_stopped"] == lab_id and result["detections"] == []
