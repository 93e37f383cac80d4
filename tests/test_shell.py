"""taplab.shell: the one way to run a command, in the root namespace or in a node's."""

import os
import subprocess

import pytest

from taplab.shell import CommandFailed, capture, in_netns, run, start, succeeds
from tests.conftest import needs

SCRIPT = ["sh", "-c", "read line; echo out:$line; echo err >&2; exit ${CODE:-0}"]


def test_in_netns_prefixes_only_when_a_namespace_is_given():
    assert in_netns(["ip", "addr"], "t1ab-pod1") == [
        "ip",
        "netns",
        "exec",
        "t1ab-pod1",
        "ip",
        "addr",
    ]
    assert in_netns(("ip", "addr"), None) == ["ip", "addr"]


def test_run_gives_combined_output_and_raises_with_it_on_failure():
    assert run(SCRIPT, input="a\n").splitlines() == ["out:a", "err"]
    with pytest.raises(CommandFailed) as err:
        run(["sh", "-c", "echo why >&2; exit 3"])
    assert (err.value.code, err.value.output) == (3, "why\n")
    assert run(["sh", "-c", "echo why; exit 3"], check=False) == "why\n"


def test_capture_keeps_stderr_apart_and_leaves_the_exit_code_to_the_caller():
    proc = capture(SCRIPT, input="b\n", env={**os.environ, "CODE": "4"})
    assert (proc.returncode, proc.stdout, proc.stderr) == (4, "out:b\n", "err\n")


def test_start_runs_in_the_background_with_the_given_pipes():
    proc = start(
        SCRIPT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    out, _ = proc.communicate("c\n", timeout=10)
    assert (proc.returncode, out) == (0, "out:c\n")


def test_succeeds_is_false_for_a_failure_or_a_missing_program():
    assert succeeds(["true"]) and not succeeds(["false"])
    assert not succeeds(["no-such-program-here"])


@pytest.fixture
def netns():
    name = f"unify-shell-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    yield name
    subprocess.run(["ip", "netns", "delete", name], check=True)


@needs()
def test_every_form_runs_inside_the_namespace(netns):
    assert "lo" in run(["ip", "-o", "link"], netns=netns)
    own = subprocess.run(
        ["ip", "netns", "identify", str(os.getpid())], capture_output=True, text=True
    ).stdout.strip()
    assert own != netns
    shown = capture(["sh", "-c", "ip netns identify $$"], netns=netns)
    assert shown.stdout.strip() == netns
    proc = start(
        ["sh", "-c", "ip netns identify $$"], netns=netns, stdout=subprocess.PIPE, text=True
    )
    assert proc.communicate(timeout=10)[0].strip() == netns
    assert succeeds(["ip", "link", "show", "lo"], netns=netns)
    assert not succeeds(["ip", "link", "show", "lo"], netns=f"{netns}-missing")
