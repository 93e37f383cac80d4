"""Shared fixtures: skips use the same capability probe as the code."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from taplab import capabilities
from taplab.resources import describe, leftovers, remove
from taplab.state import LABS_DIR, created_ids, recorded_labs

TAPLAB = [sys.executable, "-m", "taplab.cli"]
# Labs built by tests keep their output folders out of the checkout.
os.environ.setdefault("TAPLAB_OUTPUT", "/tmp/taplab-test-labs")


def needs(*features: str):
    """Mark a test that builds real networks with these features ("gre|ovs_user": either):
    it is marked `network`, and skipped with the probe's reason unless root and every
    feature are there. Nothing is probed before the test runs."""
    return pytest.mark.needs(*features)


# Features of Debian's full kernel (the Vagrant VM's) that the development machines lack:
# a test needing one is marked `kernel` and runs in `make test-kernel`, where
# TAPLAB_KERNEL_LANE is set and a missing feature fails the test instead of skipping it.
KERNEL_FEATURES = {"gre", "gretap", "ovs_kernel", "netem", "dummy", "vlan", "kprobes"}
KERNEL_FEATURES.add("lambda_limits")  # cgroup v2's controllers: hybrid hierarchies lack them
IN_KERNEL_LANE = bool(os.environ.get("TAPLAB_KERNEL_LANE"))


def _missing(features: set[str]) -> str | None:
    """Why a test needing these features cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root to build real networks"
    missing = [
        alternatives
        for alternatives in (f.split("|") for f in sorted(features))
        if not any(capabilities.available(f) for f in alternatives)
    ]
    return "; ".join(capabilities.unavailable_reason(f) for alts in missing for f in alts) or None


# Whole scenarios (the demo, every exercise graded, Ryu's apps, benches, 60 s soaks):
# marked `long`, run by `make test-long` so that `make test` stays quick.
LONG_MODULES = {
    "test_demo",
    "test_exercises",
    "test_cheating_submissions",
    "test_ryu_apps",
    "test_detection_benign",
    "test_robust_soak",
    "test_bench_policy",
    "test_bench_encap",
    "test_bench_monitor",
    "test_tap_bench",
}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Every test marked by needs() is a `network` test, and a `kernel` one when it needs a
    feature of KERNEL_FEATURES; tests of LONG_MODULES are `long` (before `-m` selects)."""
    for item in items:
        if item.module.__name__.rpartition(".")[2] in LONG_MODULES:
            item.add_marker(pytest.mark.long)
        if item.get_closest_marker("needs"):
            item.add_marker(pytest.mark.network)
        if {f for mark in item.iter_markers("needs") for f in mark.args} & KERNEL_FEATURES:
            item.add_marker(pytest.mark.kernel)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Skip a needs() test, before its fixtures run, where root or a feature is missing."""
    marks = list(item.iter_markers("needs"))
    reason = marks and _missing({f for mark in marks for f in mark.args})
    if reason and IN_KERNEL_LANE and item.get_closest_marker("kernel"):
        pytest.fail(f"the kernel lane must have what this test needs: {reason}")
    if reason:
        pytest.skip(reason)


def taplab(*args: str, timeout: float = 240, **kwargs) -> subprocess.CompletedProcess:
    """Run the taplab command as a user would."""
    return subprocess.run(
        [*TAPLAB, *args], capture_output=True, text=True, timeout=timeout, **kwargs
    )


def wait_for(condition, timeout: float = 30, interval: float = 0.1, what: str = "condition"):
    """Poll condition() until it returns something truthy, or fail after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def ctrl_c(proc: subprocess.Popen, timeout: float = 30) -> str:
    """Send proc SIGINT and return what it printed; kill it if it has not ended by timeout."""
    proc.send_signal(signal.SIGINT)
    try:
        return proc.communicate(timeout=timeout)[0]
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise AssertionError(f"{proc.args[0]} still ran {timeout} s after Ctrl-C") from None


def netns_names() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def ovs_bridges() -> set[str]:
    out = subprocess.run(["ovs-vsctl", "list-br"], capture_output=True, text=True).stdout
    return set(out.split())


def lab_leftovers(lab_id: str) -> list[str]:
    """Whatever of lab lab_id still exists: namespaces, OVS bridges, state, links."""
    left = [f"netns {n}" for n in netns_names() if n.startswith(f"{lab_id}-")]
    left += [f"ovs bridge {b}" for b in ovs_bridges() if b.startswith(lab_id)]
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    left += [
        f"link {ln.split(':')[1].strip()}"
        for ln in links.splitlines()
        if ln.split(":")[1].strip().startswith(lab_id)
    ]
    if (LABS_DIR / f"{lab_id}.json").exists():
        left.append("state file")
    if Path(LABS_DIR / lab_id).exists():
        left.append("work dir")
    return left


@pytest.fixture(autouse=True)
def no_lab_left_behind():
    """A test may kill a lab, but must clean up after it, also when an assertion fails
    first: a record whose owner is dead at the end of a test is a leak, and so is any
    process, namespace, link or OVS bridge still carrying the id of a lab this test
    created (ids of this run only: other runs use other TAPLAB_RUN_DIRs)."""
    before = {lab.id for lab in recorded_labs()}
    created_before = len(created_ids())
    yield
    dead = [
        f"{lab.id} ({lab.name})"
        for lab in recorded_labs()
        if lab.id not in before and not lab.owner().alive()
    ]
    if dead:  # the test fails, and the machine is left clean for the next one
        taplab("clean")
    leaks = _leftovers(created_ids()[created_before:])
    for resource in leaks:
        remove(resource)
    assert not dead, f"labs left behind by this test: {', '.join(dead)}"
    assert not leaks, f"left behind by this test: {', '.join(map(describe, leaks))}"


def _leftovers(ids: list[str]) -> list[dict]:
    """What still carries one of these lab ids, but for labs still running."""
    running = {lab.id for lab in recorded_labs() if lab.owner().alive()}
    found = leftovers({i: str(LABS_DIR / i) for i in ids if i not in running})
    return [r for resources in found.values() for r in resources]


IDS_AT_START = len(created_ids())


def pytest_sessionfinish(session, exitstatus):
    """Labs still recorded once every test is done were not torn down, and nothing
    may still carry the id of a lab this run created (a module's lab, say)."""
    left = [f"{lab.id} ({lab.name})" for lab in recorded_labs()]
    left += [describe(r) for r in _leftovers(created_ids()[IDS_AT_START:])]
    if left and os.geteuid() == 0:
        print(f"\nleft behind after the tests: {', '.join(left)}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
