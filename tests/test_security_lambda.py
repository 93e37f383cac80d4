"""Hostile lambdas: each must fail safely, be reported and counted, while other lambdas
go on. A lambda server runs in this process (its workers are real sandboxed processes),
and one test runs the same lambdas in a real controller process."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from taplab.controllers import lambda_sandbox, runtime
from taplab.controllers.api_client import ControllerClient
from taplab.controllers.lambda_sandbox import LIMITS, is_worker_uid
from taplab.controllers.lambda_server import LambdaServer
from taplab.controllers.lambda_supervisor import GAVE_UP, GIVE_UP
from taplab.controllers.lambda_worker import LambdaLoadError
from taplab.controllers.settings import ControllerSettings
from taplab.lab import Lab
from tests.conftest import lab_leftovers, needs, taplab, wait_for

pytestmark = needs()

PROBE = """
import os, socket
from taplab.lambdas import on, Alert

def attempt(what, fn):
    try:
        fn()
        return what + ":done"
    except OSError as exc:
        return what + ":" + type(exc).__name__

@on("tap")
def probe(event, ctx):
    facts = [f"uid={os.getuid()}", f"env={sorted(os.environ)}"]
    for path in event.data["secrets"]:
        facts.append(attempt("read " + path, lambda p=path: open(p).read()))
    facts.append(attempt("kill-parent", lambda: os.kill(os.getppid(), 9)))
    facts.append(attempt("connect", lambda: socket.create_connection(("127.0.0.1", 22), 1)))
    out = os.open(event.data["scratch"], os.O_WRONLY | os.O_CREAT, 0o644)
    facts.append(attempt("write", lambda: os.write(out, b"x")))
    return Alert("probe", detail=" | ".join(facts))
"""

SURVIVOR = """
import os, time
from taplab.lambdas import on, Alert

@on("tap")
def fork(event, ctx):
    pid = os.fork()
    if pid == 0:
        os.setsid()
        if os.fork():
            os._exit(0)
        while True:
            time.sleep(1)
    os.waitpid(pid, 0)
    return Alert("forked", detail=open("/proc/self/task/%d/children" % os.getpid()).read())
"""

GREEDY = """
from taplab.lambdas import on
ballast = bytearray(1536 * 2**20)

@on("tap")
def f(event, ctx):
    pass
"""

EXIT = """
import os
from taplab.lambdas import on

@on("tap")
def leave(event, ctx):
    os._exit(3)
"""

STEADY = """
from taplab.lambdas import on, Alert

@on("tap")
def count(event, ctx):
    return Alert("steady", detail=str(ctx.store.incr("n")))
"""


SPIN = "\n    while True:\n        pass\n"
SPINNERS = {
    "thread": "import threading\ndef spin():"
    + SPIN
    + "threading.Thread(target=spin, daemon=True).start()\n",
    "child": "import os\nif os.fork() == 0:" + SPIN,
}
ON_TAP = "from taplab.lambdas import on\n@on('tap')\ndef f(event, ctx):\n    pass\n"


@pytest.fixture
def server(tmp_path):
    lambdas = LambdaServer(ControllerSettings(apps=[], workdir=str(tmp_path)), lambda a: {})
    yield lambdas
    for name in list(lambdas.workers):
        lambdas.unload(name)


def alerts(server: LambdaServer, name: str) -> list[dict]:
    return [a for a in server.actions() if a.get("name") == name]


def processes(test) -> set[int]:
    """Pids of the processes for which test(pid) is true (those gone meanwhile left out)."""
    found = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if test(pid):
                found.add(int(pid))
        except OSError:
            continue
    return found


def _worker_uid(pid: str) -> bool:
    with open(f"/proc/{pid}/status") as f:
        return is_worker_uid(next(int(line.split()[1]) for line in f if line.startswith("Uid:")))


def lambda_pids() -> set[int]:
    """Processes running under a lambda worker's user id."""
    return processes(_worker_uid)


def test_a_lambda_cannot_read_secrets_signal_its_parent_use_the_network_or_write(server, tmp_path):
    token, config = tmp_path / "controller.token", tmp_path / "controller.json"
    token.write_text("secret")
    token.chmod(0o600)
    ControllerSettings(apps=[], workdir=str(tmp_path)).save(config)
    server.load("probe", PROBE)
    scratch = Path(f"/tmp/taplab-lambda-probe-{os.getpid()}")
    server.post(
        "tap", data={"secrets": ["/etc/shadow", str(token), str(config)], "scratch": str(scratch)}
    )
    (alert,) = wait_for(lambda: alerts(server, "probe"), timeout=10, what="the probe's alert")
    assert scratch.stat().st_size == 0
    scratch.unlink()
    facts = alert["detail"].split(" | ")
    assert facts[0] != "uid=0" and facts[1] == "env=['LANG', 'PATH']", facts
    assert facts[2:] == [f"read {p}:PermissionError" for p in ("/etc/shadow", token, config)] + [
        "kill-parent:PermissionError",
        "connect:OSError",
        "write:OSError",
    ], facts


NEIGHBOUR = """
import os
from taplab.lambdas import on, Alert

@on("tap")
def neighbour(event, ctx):
    try:
        os.kill(event.data["target"], 0)
        return Alert("signalled", detail=str(os.getuid()))
    except OSError as exc:
        return Alert("refused", detail=f"{type(exc).__name__} {os.getuid()}")
"""


def test_lambdas_cannot_signal_each_other(server):
    server.load("victim", "from taplab.lambdas import on\n@on('timer')\ndef f(e, c):\n    pass\n")
    server.load("neighbour", NEIGHBOUR)
    server.post("tap", data={"target": server.workers["victim"]._proc.pid})
    (verdict,) = wait_for(lambda: server.actions(), timeout=10, what="the attempt")
    reason, uid = verdict["detail"].split()
    assert (verdict["name"], reason) == ("refused", "PermissionError"), verdict
    assert is_worker_uid(int(uid))


def test_a_forked_survivor_dies_with_its_worker(server):
    server.load("survivor", SURVIVOR)
    server.load("steady", STEADY)
    before = lambda_pids()
    server.post("tap")
    wait_for(lambda: alerts(server, "forked"), timeout=10, what="the fork")
    escaped = wait_for(
        lambda: lambda_pids() - before - {server.workers["survivor"]._proc.pid},
        timeout=5,
        what="the survivor, in its own session",
    )
    assert all(os.getsid(pid) != os.getsid(server.workers["survivor"]._proc.pid) for pid in escaped)
    server.unload("survivor")
    wait_for(
        lambda: not any(os.path.exists(f"/proc/{pid}") for pid in escaped),
        timeout=5,
        what="the survivor to die with its worker",
    )
    assert alerts(server, "steady")


def test_a_lambda_allocating_at_load_does_not_load(server):
    server.load("steady", STEADY)
    with pytest.raises(LambdaLoadError, match="failed while loading: MemoryError"):
        server.load("greedy", GREEDY)
    server.post("tap")
    wait_for(lambda: alerts(server, "steady"), timeout=10, what="the other lambda to go on")


def test_a_lambda_exiting_on_every_event_backs_off_then_gives_up(server):
    server.load("exit", EXIT)
    server.load("steady", STEADY)
    exit_ = server.workers["exit"]

    def post_until_given_up():
        server.post("tap")
        return exit_.state == GAVE_UP

    wait_for(post_until_given_up, timeout=30, interval=0.05, what="the lambda to be given up")
    stats = exit_.describe()
    assert stats["crashes"] == GIVE_UP and stats["restarts"] == GIVE_UP - 1, stats
    assert stats["dropped"] > 0 and "given up" in exit_.logs[-1]
    assert server.post("tap") == 1  # only the steady lambda takes events now
    n = len(alerts(server, "steady"))
    wait_for(lambda: len(alerts(server, "steady")) > n, timeout=10, what="steady to go on")
    server.load("exit", EXIT)  # loading it again starts afresh
    assert server.workers["exit"].describe()["state"] == "running"


@pytest.mark.parametrize("where", SPINNERS)
def test_a_lambda_spinning_outside_its_calls_is_killed(server, where):
    server.load("spinner", SPINNERS[where] + ON_TAP)
    server.load("steady", STEADY)
    spinner = server.workers["spinner"]
    wait_for(
        lambda: spinner.describe()["kills"] >= 1,
        timeout=20,
        what="the worker to be killed for its CPU use",
    )
    assert "used CPU outside its calls" in "\n".join(spinner.logs)
    server.post("tap")
    wait_for(lambda: alerts(server, "steady"), timeout=10, what="the other lambda to go on")


def test_a_file_that_loops_while_loading_does_not_load(server):
    started = time.monotonic()
    with pytest.raises(LambdaLoadError, match="took longer than 5 s to load"):
        server.load("loop", "while True:\n    pass\n" + ON_TAP)
    assert time.monotonic() - started < 15


def test_failed_loads_leak_no_descriptors(server):
    before = len(os.listdir("/proc/self/fd"))
    for source in ["x = (\n", "raise SystemExit(1)\n", "import os\nos._exit(1)\n"] * 17:
        with pytest.raises(LambdaLoadError):
            server.load("broken", source)
    assert len(os.listdir("/proc/self/fd")) == before
    assert not server.workers


@pytest.fixture(scope="module")
def controller():
    """A controller process running only the lambda server: (lab, client, its workers'
    processes, which must all be gone once the lab is)."""
    processes: set[int] = set()
    with Lab("hostile-lambdas") as lab:
        runtime.start(lab, [runtime.LAMBDA_APP])
        yield lab, ControllerClient.for_lab(lab), processes
    wait_for(
        lambda: not any(os.path.exists(f"/proc/{pid}") for pid in processes),
        timeout=10,
        what="the lambdas' processes to die with the lab",
    )


def test_a_real_controller_survives_hostile_lambdas(controller):
    lab, client, processes = controller
    meta = lab.meta["controller"]
    pid = meta["pid"]
    before = lambda_pids()
    for name, source in (("probe", PROBE), ("survivor", SURVIVOR), ("steady", STEADY)):
        client.request("POST", "/lambdas", {"name": name, "source": source})
    secrets = [
        meta["token_file"],
        meta["telemetry_key_file"],
        str(Path(lab.workdir) / "controller.json"),
    ]
    scratch = f"/tmp/taplab-lambda-probe-{os.getpid()}"
    client.request(
        "POST", "/events", {"kind": "tap", "data": {"secrets": secrets, "scratch": scratch}}
    )

    def probe():
        return [a for a in client.request("GET", "/actions")["actions"] if a["name"] == "probe"]

    (alert,) = wait_for(probe, timeout=10, what="the probe's alert")
    os.unlink(scratch)
    assert "kill-parent:PermissionError" in alert["detail"]
    assert alert["detail"].count(":PermissionError") == 4, alert["detail"]
    processes |= wait_for(lambda: lambda_pids() - before, timeout=10, what="the workers")
    assert os.path.exists(f"/proc/{pid}") and client.request("GET", "/health")["pid"] == pid
    with pytest.raises(Exception, match="failed while loading: MemoryError"):
        client.request("POST", "/lambdas", {"name": "greedy", "source": GREEDY})


def test_lambda_list_shows_a_given_up_lambda(controller):
    lab, client, _ = controller
    client.request("POST", "/lambdas", {"name": "quitter", "source": EXIT})

    def given_up():
        client.request("POST", "/events", {"kind": "tap"})
        rows = client.request("GET", "/lambdas")["lambdas"]
        return next(r for r in rows if r["name"] == "quitter")["state"] == GAVE_UP

    wait_for(given_up, timeout=40, interval=0.1, what="the lambda to be given up")
    listed = taplab("lambda", "list", "--lab", lab.id, env={**os.environ, "COLUMNS": "200"})
    row = next(line for line in listed.stdout.splitlines() if "quitter" in line)
    assert "gave up" in row and f" {GIVE_UP} " in row, listed.stdout
    logs = taplab("lambda", "logs", "quitter", "--lab", lab.id)
    assert "given up: its worker failed 6 times in a row" in " ".join(logs.stdout.split())


KILLED_LAB = """
import json, sys, urllib.request
from taplab.controllers import runtime
from taplab.controllers.api_client import ControllerClient
from taplab.lab import Lab
with Lab("killed-with-lambdas") as lab:
    runtime.start(lab, [runtime.LAMBDA_APP])
    client = ControllerClient.for_lab(lab)
    client.request("POST", "/lambdas", {"name": "survivor", "source": sys.argv[1]})
    client.request("POST", "/events", {"kind": "tap"})
    print("READY", lab.id, flush=True)
    sys.stdin.read()
"""


def test_a_survivor_is_gone_after_kill_9_of_the_lab_and_taplab_clean():
    before = lambda_pids()
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_LAB, SURVIVOR],
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout.readline().startswith("READY")
        ours = wait_for(
            lambda: len(lambda_pids() - before) >= 2 and lambda_pids() - before,
            timeout=20,
            what="the worker and its survivor",
        )
    finally:
        child.kill()
        child.wait()
        cleaned = taplab("clean")
    assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
    wait_for(
        lambda: not any(os.path.exists(f"/proc/{pid}") for pid in ours),
        timeout=10,
        what="the survivor to be gone after taplab clean",
    )


EXILE = """
import os
from taplab.lambdas import on, Alert

@on("tap")
def exile(event, ctx):
    pid = os.fork()
    if pid == 0:
        os.setsid()
        os.execve("/bin/sleep", ["sleep", "600"], {})  # without the lab's id
    return Alert("exiled", detail=str(pid))
"""


def test_a_lambda_cgroup_is_gone_after_kill_9_of_the_lab_and_taplab_clean():
    """A worker's child that dropped the lab's id from its environment is found by its
    cgroup, which carries the lab's id; nothing of the lab is left."""
    root = lambda_sandbox.cgroup_root()
    if root is None:
        pytest.skip("no cgroup v2 hierarchy: lambda workers get no cgroup here")
    before = lambda_pids()
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_LAB, EXILE],
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        lab_id = child.stdout.readline().split()[1]
        ours = wait_for(
            lambda: len(lambda_pids() - before) >= 2 and lambda_pids() - before,
            timeout=20,
            what="the worker and its exiled child",
        )
        assert sorted(root.glob(f"{lab_id}-*")), "the worker has no cgroup"
    finally:
        child.kill()  # and its controller: nothing of the lab gets to clean up
        for pid in lab_processes(lab_id) - ours:
            os.kill(pid, signal.SIGKILL)
        child.wait()
        foreign = [root.parent / f"{lab_id}-not-taplab", root / f"{lab_id}x-1-other-lab"]
        for group in foreign:
            group.mkdir()
        try:
            cleaned = taplab("clean")
            assert all(group.is_dir() for group in foreign), "a foreign cgroup was removed"
        finally:
            for group in foreign:
                group.rmdir()
    assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
    assert sorted(root.glob(f"{lab_id}-*")) == [], cleaned.stdout
    wait_for(
        lambda: not any(alive(pid) for pid in ours),
        timeout=10,
        what="the worker and its exiled child to be gone after taplab clean",
    )
    assert lab_leftovers(lab_id) == []


def lab_processes(lab_id: str) -> set[int]:
    """Processes started with the lab's id in their environment."""
    mark = f"TAPLAB_LAB={lab_id}".encode()

    def carries(pid: str) -> bool:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return mark in f.read().split(b"\0")

    return processes(carries)


def alive(pid: int) -> bool:
    """Whether pid runs (a zombie waiting for init to reap it does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


FORK = """
import os, time
from taplab.lambdas import on, Alert

@on("tap")
def fork(event, ctx):
    pid = os.fork()
    if pid == 0:
        while True:
            time.sleep(1)
    return Alert("forked", detail=str(pid))
"""


def test_without_cgroup_v2_the_process_group_dies_and_cpu_is_still_watched(server, monkeypatch):
    monkeypatch.setattr(lambda_sandbox, "cgroup_root", lambda: None)
    server.load("fork", FORK)
    server.load("spinner", SPINNERS["thread"] + ON_TAP)
    assert server.workers["fork"]._sandbox.group is None
    server.post("tap")
    (forked,) = wait_for(lambda: alerts(server, "forked"), timeout=10, what="the fork")
    child = int(forked["detail"])
    server.unload("fork")
    wait_for(
        lambda: not os.path.exists(f"/proc/{child}"),
        timeout=5,
        what="the child to die with its worker's process group",
    )
    spinner = server.workers["spinner"]
    wait_for(
        lambda: spinner.describe()["kills"] >= 1,
        timeout=20,
        what="the spinning worker to be killed",
    )


@needs("lambda_limits")
def test_a_worker_cgroup_limits_memory_tasks_and_cpu(server):
    server.load("steady", STEADY)
    group = server.workers["steady"]._sandbox.group
    assert {name: (group / name).read_text().strip() for name, _ in LIMITS.values()} == dict(
        LIMITS.values()
    )
