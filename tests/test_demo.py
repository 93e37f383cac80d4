"""``taplab demo`` end to end: the JSON report, the report folder, Ctrl-C, cleanup."""

import json
import re
import select
import signal
import subprocess
import time
from pathlib import Path

import pytest

from taplab.demo.scenario import Demo
from tests.conftest import TAPLAB, lab_leftovers, needs, taplab

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")
pytestmark = needs("ovs_user", "vxlan", "hping3", "nmap", "iperf3")


def lab_id(stderr: str) -> str:
    found = re.search(r"lab (\w+): the demo starts", stderr)
    assert found, stderr
    return found.group(1)


def test_demo_detects_and_blocks_both_attacks_and_reports_them(tmp_path):
    result = taplab("demo", "--json", "--out", str(tmp_path), timeout=300)
    assert "Traceback" not in result.stderr, result.stderr
    report = json.loads(result.stdout)
    assert not lab_leftovers(lab_id(result.stderr))
    attacks = {a["kind"]: a for a in report["attacks"]}
    assert set(attacks) == {"syn-flood", "port-scan"}, result.stderr
    attacker = report["ips"]["attacker"]
    for kind, attack in attacks.items():
        assert attack["detected"] is True, (kind, result.stderr)
        assert 0 <= attack["delay_s"] < 20, attack
        assert attack["action"].startswith(f"Block {attacker}"), attack
    assert report["false_positives"] == 0, report["alerts"]
    flood = attacks["syn-flood"]["service"]  # the flood took the web service down ...
    assert flood["failed"] > 0 and flood["back_after_action_s"] is not None, flood
    assert flood["back_after_action_s"] < 10  # ... and the block brought it back
    tap = report["taps"][0]
    assert tap["node"] == report["roles"]["web"] and tap["packets"] > 0
    assert 0 < tap["fidelity"] <= 1.05 and tap["throughput_ratio"] > 0
    assert all(s["status"] == "done" for s in report["steps"]), report["steps"]
    assert result.returncode == 0
    folder = Path(report["report_dir"])
    assert folder.parent == tmp_path
    saved = json.loads((folder / "demo.json").read_text())
    assert saved["attacks"] == json.loads(json.dumps(report["attacks"]))
    assert "conditions" in saved and saved["timeline"]
    assert (folder / "timeline.png").read_bytes()[:4] == b"\x89PNG"
    summary = (folder / "summary.md").read_text()
    assert "| syn-flood |" in summary and "| port-scan |" in summary
    assert report["duration_s"] < 180


def read_until(proc: subprocess.Popen, pattern: str, timeout: float) -> str:
    """stderr of proc up to the first line matching pattern."""
    seen, deadline = "", time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], 0.5)
        if ready:
            line = proc.stderr.readline()
            if not line:
                break
            seen += line
            if re.search(pattern, line):
                return seen
    raise AssertionError(f"no line matching {pattern!r} within {timeout}s:\n{seen}")


@pytest.mark.parametrize("step", Demo.STEPS)
def test_ctrl_c_during_a_step_stops_the_demo_and_leaves_nothing(step, tmp_path):
    proc = subprocess.Popen(
        [*TAPLAB, "demo", "--json", "--out", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        seen = read_until(proc, rf"running {step}", timeout=120)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err, err
    assert out == ""  # no half report
    assert not lab_leftovers(lab_id(seen))
    assert not list(tmp_path.iterdir())  # no report folder either


def test_interactive_demo_shows_the_live_view_then_opens_the_lab_cli(tmp_path):
    import pexpect

    child = pexpect.spawn(
        TAPLAB[0],
        [*TAPLAB[1:], "demo", "--interactive", "--out", str(tmp_path)],
        encoding="utf-8",
        dimensions=(60, 140),
        use_poll=True,  # select() fails on descriptors above 1023
        timeout=200,
    )
    try:
        child.expect(r"lab (\w+) is still up")
        lab = child.match.group(1)
        screen = ANSI.sub("", child.before)
        for panel in (
            "taplab demo",
            "topology",
            "traffic at",
            "taps",
            "alerts and actions",
            "attacks",
        ):
            assert panel in screen, panel
        child.expect_exact("taplab> ")
        child.sendline("py sorted(lab.meta['pods'])")
        child.expect_exact("taplab> ")
        assert "'attacker'" in child.before and "'collector'" in child.before
        child.sendline("exit")
        child.expect(pexpect.EOF, timeout=60)
    finally:
        child.close(force=True)
    saved = [json.loads(path.read_text()) for path in tmp_path.glob("*/demo.json")]
    assert child.exitstatus == 0, [(r["steps"], r["attacks"]) for r in saved]
    assert not lab_leftovers(lab)
