"""Submissions that try to get marks without doing the work must not get full marks,
and whatever they do, the grader survives and writes a valid results.json."""

import json
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from taplab.exercises import catalog
from taplab.exercises.apply import node_of, runnable
from tests.conftest import TAPLAB, needs, taplab, wait_for

EXERCISES = catalog.exercises()
REPO = catalog.ROOT.parent

# Asks taplab to solve the exercise (every way it can be called), replays the
# instructor's solution from the package and from git history (into the nodes with
# ip netns exec, as a student would), then signals the grader and everything else
# it can reach.
ASK_TAPLAB = """# node: root
for cmd in taplab "python3 -m taplab.cli" "{python} -m taplab.cli"; do
    $cmd exercise solve {number} --lab "$LAB" || true
done
for f in {solution}/*.sh; do
    node=$(sed -n 's/^# node: //p' "$f")
    ip netns exec "$LAB-$node" sh "$f" || true
done
for f in $(git -C {repo} ls-files {solution}); do
    node=$(git -C {repo} show "HEAD:$f" | sed -n 's/^# node: //p')
    git -C {repo} show "HEAD:$f" | ip netns exec "$LAB-$node" sh || true
done
kill -TERM "$PPID" 0 || true
kill -KILL -1 || true
"""


def by_exercise(numbers: list[str] | None = None) -> list:
    """One test parameter per exercise (all of them by default), needing what its lab
    requires: exercise 03's GRE makes its cases `kernel` tests, run in the kernel lane."""
    chosen = [catalog.get(n) for n in numbers] if numbers else EXERCISES
    return [pytest.param(e, id=e.path.name, marks=needs(*e.requires)) for e in chosen]


def grade(exercise: catalog.Exercise, files: dict[str, str], tmp_path) -> tuple[int, dict]:
    """Grade a submission made of files (name to text); (exit code, results.json)."""
    folder = tmp_path / "submission"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    results = tmp_path / "results.json"
    result = taplab(
        "grade",
        exercise.number,
        "--submission",
        str(folder),
        "--results",
        str(results),
        timeout=600,
    )
    return result.returncode, json.loads(results.read_text())


def assert_not_full_marks(code: int, data: dict) -> None:
    assert code == 1, f"the grader exited {code}: {data['output']}"
    full = sum(t["max_score"] for t in data["tests"])
    assert data["score"] < full, [(t["name"], t["output"]) for t in data["tests"]]


@needs("iptables")
@pytest.mark.parametrize("exercise", by_exercise())
def test_asking_taplab_or_replaying_the_solution_gets_no_full_marks(exercise, tmp_path):
    cheat = ASK_TAPLAB.format(
        python=sys.executable, number=exercise.number, repo=REPO, solution=exercise.solution
    )
    code, data = grade(exercise, {"cheat.sh": cheat}, tmp_path)
    assert_not_full_marks(code, data)


HARD_CODED_ALERT = """# lambda
from taplab.lambdas import Alert, Block, on


@on("packet_in")
def cheat(event, ctx):
    if ("done",) in ctx.store:
        return []
    ctx.store.set(("done",), True, ttl=3600)
    return [Alert("syn-flood", src="10.0.0.66"), Block(src="10.0.0.66", seconds=300)]
"""

ALERT_ALL_BUT_CLIENT = """# lambda
from taplab.lambdas import Alert, Block, on


@on("packet_in")
def cheat(event, ctx):
    if event.src in ("10.0.0.10", "10.0.0.20") or ("seen", event.src) in ctx.store:
        return []
    ctx.store.set(("seen", event.src), True, ttl=3600)
    return [Alert("syn-flood", src=event.src), Block(src=event.src, seconds=300)]
"""


@needs("iptables", *catalog.get("10").requires)
@pytest.mark.parametrize(
    "lambda_text",
    [HARD_CODED_ALERT, ALERT_ALL_BUT_CLIENT],
    ids=["hard-coded-address", "every-new-source"],
)
def test_exercise_10_alerts_must_come_from_the_flood(lambda_text, tmp_path):
    exercise = catalog.get("10")
    code, data = grade(exercise, {"detector.py": lambda_text}, tmp_path)
    assert_not_full_marks(code, data)
    flood = next(t for t in data["tests"] if t["name"].startswith("a SYN flood"))
    assert flood["status"] == "failed", flood["output"]


BLIND_SENDER = '''
def send_acked(link, key, switch_id, epoch, flows):
    """Never reads an ACK: sends every transaction COPIES times."""
    for seq, flow in enumerate(flows, start=1):
        datagram = build(V2, switch_id, seq, [flow_event(flow, ack=True)], key, epoch)
        for _ in range(COPIES):
            link.send(datagram)
    return 0


if __name__ == "__main__":
    main()
'''


@needs("iptables", *catalog.get("12").requires)
@pytest.mark.parametrize("copies", [2, 5])
def test_exercise_12_an_agent_that_never_reads_acks_loses_marks(copies, tmp_path):
    exercise = catalog.get("12")
    solution = (exercise.solution / "agent.py").read_text()
    blind = solution.replace('\nif __name__ == "__main__":\n    main()\n', "")
    blind += f"\nCOPIES = {copies}\n" + BLIND_SENDER
    code, data = grade(exercise, {"agent.py": blind}, tmp_path)
    assert_not_full_marks(code, data)
    behaviour = next(t for t in data["tests"] if t["name"].startswith("the agent reads"))
    assert behaviour["status"] == "failed", behaviour["output"]


@needs("iptables")
def test_a_grader_stopped_by_sigterm_still_writes_results(tmp_path):
    folder = tmp_path / "submission"
    folder.mkdir()
    flags = Path(tempfile.mkdtemp())  # where user nobody can say it started
    flags.chmod(0o777)
    (folder / "slow.sh").write_text(f"# node: node1\necho started > {flags}/started\nsleep 600\n")
    results = tmp_path / "results.json"
    grader = subprocess.Popen(
        [*TAPLAB, "grade", "01", "--submission", str(folder), "--results", str(results)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: (flags / "started").exists(), timeout=120, what="the student's file")
        grader.send_signal(signal.SIGTERM)
        _out, err = grader.communicate(timeout=60)
    finally:
        grader.kill()
        shutil.rmtree(flags)
    assert grader.returncode == 128 + signal.SIGTERM, err
    data = json.loads(results.read_text())
    assert data["score"] == 0 and "interrupted" in data["output"]


# Undoes the mounts that hide the solutions (or reaches under them with a bind mount
# of the root), then runs the solution's files in their nodes; as agent.py it becomes
# the solution's agent (exercise 12's grader runs the student's agent again).
UNMOUNT = """# node: {node}
import os, re, subprocess, sys, tempfile
from pathlib import Path

solution = Path({solution!r})
for hidden in (solution, Path({repo!r}) / ".git"):
    subprocess.run(["umount", "-l", str(hidden)], stderr=subprocess.DEVNULL)
if not any(solution.iterdir()):
    under = tempfile.mkdtemp()
    subprocess.run(["mount", "--bind", "/", under], stderr=subprocess.DEVNULL)
    solution = Path(under + str(solution))
print("solution:", sorted(p.name for p in solution.glob("*")), file=sys.stderr)
runners = {{".sh": ["sh"], ".py": [sys.executable]}}
for f in sorted(solution.glob("*")):
    node = re.search(r"^# node: (\\S+)", f.read_text(), re.M)
    if f.suffix not in runners or not node:
        continue
    if node[1] == "root":
        os.execv(sys.executable, [sys.executable, str(f), *sys.argv[1:]])
    netns = "--net=/run/netns/" + os.environ["LAB"] + "-" + node[1]
    if subprocess.run(["nsenter", netns, *runners[f.suffix], str(f)]).returncode:
        subprocess.run([*runners[f.suffix], str(f)])
"""


@needs("iptables")
@pytest.mark.parametrize("exercise", by_exercise(["01", "02", "03", "08", "09", "12"]))
def test_undoing_the_mounts_that_hide_the_solution_gets_no_full_marks(exercise, tmp_path):
    node = node_of(runnable(exercise.solution)[0])
    cheat = UNMOUNT.format(node=node, solution=str(exercise.solution), repo=str(REPO))
    code, data = grade(exercise, {"agent.py" if node == "root" else "cheat.py": cheat}, tmp_path)
    assert_not_full_marks(code, data)


WHO = """# node: {node}
echo $(id -u) $(awk '/^CapEff/ {{print $2}}' /proc/self/status) >&2
exit 1
"""


@needs("iptables")
@pytest.mark.parametrize(
    "number, node, caps",
    [
        ("04", "node1", "0000000000003000"),  # NET_ADMIN, NET_RAW
        ("01", "node1", "0000000000003000"),  # the same: only ip may enter other nodes
        ("08", "node1", "000000c000003000"),  # and BPF, PERFMON (eBPF on tc)
        ("12", "root", "0000000000000000"),  # nothing: UDP to the lambda server
    ],
)
def test_files_run_as_nobody_with_the_capabilities_their_exercise_needs(
    number, node, caps, tmp_path
):
    code, data = grade(catalog.get(number), {"who.sh": WHO.format(node=node)}, tmp_path)
    assert code == 1
    assert f"who.sh failed in {node} (exit 1): 65534 {caps}" in data["output"], data["output"]


# A Ryu app that says, as it loads, who it runs as and what it can reach.
WHO_APP = """# controller app
import os
from pathlib import Path

from taplab.controllers.settings import ENV, ControllerSettings


def attempt(path):
    try:
        Path(path).read_text()
        return "read"
    except OSError as exc:
        return type(exc).__name__


hidden = sorted(os.listdir({solution!r}))  # the solution folder
caps = [line.split()[1] for line in open("/proc/self/status") if line.startswith("CapEff")]
token = ControllerSettings.load(os.environ[ENV]).token_file
raise SystemExit(f"who: {{os.getuid()}} {{caps[0]}} token {{attempt(token)}} {{hidden}}")
"""


@needs("iptables", "ovs_user")
@pytest.mark.parametrize("number", ["05", "06"])
def test_a_ryu_app_runs_as_nobody_without_the_token_or_the_solution(number, tmp_path):
    exercise = catalog.get(number)
    app = WHO_APP.format(solution=str(exercise.solution))
    code, data = grade(exercise, {"app.py": app}, tmp_path)
    assert_not_full_marks(code, data)
    assert "who: 65534 0000000000000000 token PermissionError []" in data["output"], data["output"]
