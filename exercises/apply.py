"""Running an exercise's files in the live lab.

A runnable file (``.sh`` or ``.py``) names the node it runs in on a header
line, ``# node: node1``. It runs inside that node's network namespace with
``LAB`` set to the lab id, so it can reach other nodes' namespaces as
``$LAB-pod1`` (``ip -n "$LAB-pod1" ...``, ``ip link set X netns "$LAB-pod1"``).
A Ryu/os-ken app (a ``.py`` file with a ``# controller app`` line) becomes the
lab's controller instead: the one running is stopped, the new one started and
the lab's OVS bridge (``meta["switch"]``) pointed at it. A lambda (a ``.py``
file with a ``# lambda`` line) is loaded into the lab's lambda server.
A file with a ``# keep running`` line as well is a daemon (a sidecar): it is
started in its node, recorded by the lab, replaced when run again, and counts
as started once it prints a line containing ``ready``.
``# node: root`` runs a file in the root namespace (a switch agent talking to the
controller on 127.0.0.1). Every file run is remembered in ``meta["ran"]`` (name
to path), so that a grader can run the student's program again under its own
conditions. ``solve`` runs every runnable file of ``solution/`` in name order.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from taplab import ready
from taplab.errors import UserError
from taplab.lab import LabHandle
from taplab.procs import ProcessId
from taplab.resources import LAB_ENV
from taplab.shell import in_netns, run

NODE_HEADER = re.compile(r"^#\s*node:\s*(\S+)\s*$", re.MULTILINE)
CONTROLLER_HEADER = re.compile(r"^#\s*controller app\s*$", re.MULTILINE)
LAMBDA_HEADER = re.compile(r"^#\s*lambda\s*$", re.MULTILINE)
CONTROLLER, LAMBDA = "controller", "lambda server"  # what node_of says for those
ROOT = "root"  # the root network namespace
DAEMON_HEADER = re.compile(r"^#\s*keep running\s*$", re.MULTILINE)
READY_TIMEOUT = 15.0
CONNECT_TIMEOUT = 15.0
RUNNERS = {".sh": ["sh", "-e"], ".py": [sys.executable]}
EXERCISES = Path(__file__).parent
SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
NOBODY = 65534


@dataclass(frozen=True)
class Privileges:
    """What a student's file keeps, run as user nobody; an exercise's ``check.py``
    declares them as ``PRIVILEGES``.

    caps: the capabilities it keeps. ip_enters_namespaces: ``ip`` (and only ip) may
    enter other nodes' namespaces (``ip -n``, ``ip netns exec``), which takes
    CAP_SYS_ADMIN: ip gets it as a file capability on a private copy, so the file
    itself cannot unmount what hides the solutions. reads: the lab controller's files
    (``LabHandle.controller`` keys) it may read, shown to it alone as private copies.
    """

    caps: tuple[str, ...] = ("net_admin", "net_raw")
    ip_enters_namespaces: bool = False
    reads: tuple[str, ...] = ()

    def drop(self) -> list[str]:
        """The setpriv command that becomes user nobody with these capabilities (and
        no way to gain more: no new privileges, unless ip must gain its own)."""
        caps = ["-all", *(f"+{cap}" for cap in self.caps)]
        bounding = caps + ["+sys_admin"] * self.ip_enters_namespaces
        return [
            "setpriv",
            f"--reuid={NOBODY}",
            f"--regid={NOBODY}",
            "--clear-groups",
            f"--inh-caps={','.join(caps)}",
            f"--ambient-caps={','.join(caps)}",
            f"--bounding-set={','.join(bounding)}",
            *["--no-new-privs"] * (not self.ip_enters_namespaces),
        ]

    def setup(self, handle: LabHandle, private: Path, shown: Sequence[str] = ()) -> list[str]:
        """Shell commands (run as root in the file's mount namespace) that mount a tmpfs
        on private and put there, bound over the originals, what the file may use: the
        capable ip, and copies it can read of the files of reads and shown."""
        steps = [f"mount -t tmpfs -o mode=0755,size=16m private {shlex.quote(str(private))}"]
        made = {}  # original path: the command making its private copy {copy}
        if self.ip_enters_namespaces:
            caps = ",".join(f"cap_{cap}" for cap in (*self.caps, "sys_admin")) + "+ep"
            ip = os.path.realpath(shutil.which("ip", path=SAFE_PATH))
            made[ip] = f"cp {ip} {{copy}} && setcap {caps} {{copy}}"
        for path in [*(handle.controller[key] for key in self.reads), *shown]:
            made[path] = f"install -o {NOBODY} -m 0400 {shlex.quote(path)} {{copy}}"
        for n, (original, make) in enumerate(made.items()):
            copy = shlex.quote(str(private / str(n)))
            steps += [make.format(copy=copy), f"mount --bind {copy} {shlex.quote(original)}"]
        return steps


def node_of(path: Path) -> str | None:
    """The node a file runs in (its ``# node:`` header), None if it is not runnable."""
    if path.suffix not in RUNNERS:
        return None
    head = path.read_text()[:2000]
    if path.suffix == ".py" and CONTROLLER_HEADER.search(head):
        return CONTROLLER
    if path.suffix == ".py" and LAMBDA_HEADER.search(head):
        return LAMBDA
    match = NODE_HEADER.search(head)
    return match[1] if match else None


def student_env(handle: LabHandle) -> dict[str, str]:
    """The environment of a student's file: the lab's id and nothing of the caller's."""
    keep = {k: os.environ[k] for k in (LAB_ENV, "TAPLAB_RUN_DIR") if k in os.environ}
    return {
        "PATH": SAFE_PATH,
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "LAB": handle.id,
        "NMAP_PRIVILEGED": "1",
        **keep,
    }  # nmap: raw sockets by capability, not uid 0


def confined(
    argv: list[str], path: Path, setup: Sequence[str] = (), own_pids: bool = True
) -> list[str]:
    """argv wrapped to run a student's file (path) with no way to the grader or the
    solutions.

    It runs in a PID namespace of its own (unless not own_pids: it cannot see or
    signal the grader or taplab, and whatever it starts dies with it; argv is then
    no longer the process started), in a private mount namespace where
    every exercise's ``solution/`` (but the one path is in, when an instructor grades
    a solution) and the checkout's git history are empty read-only folders and the
    ``taplab`` command is empty, so that ``taplab exercise solve`` cannot do the work.
    The shell commands of setup run there first, as root.
    """
    folders = [d for d in sorted(EXERCISES.glob("*/solution")) if d != path.parent]
    folders += [d for d in (EXERCISES.parent / ".git",) if d.is_dir()]  # a checkout's history
    hide = [f"mount -t tmpfs -o ro,size=4k hidden {shlex.quote(str(d))}" for d in folders]
    hide += [f"mount --bind /dev/null {shlex.quote(c)}" for c in _taplab_commands()]
    script = " && ".join([*hide, *setup, 'exec "$@"'])
    return [
        "unshare",
        *["--pid", "--fork", "--kill-child"] * own_pids,
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        script,
        "confined",
        *argv,
    ]


def _taplab_commands() -> list[str]:
    found = {shutil.which("taplab"), str(Path(sys.executable).parent / "taplab")}
    return sorted(c for c in found if c and os.path.exists(c))


def privileges(handle: LabHandle) -> Privileges | None:
    """What students' files keep in the lab's exercise (its check.py's ``PRIVILEGES``);
    None: they run as root."""
    from taplab.exercises import catalog

    number = handle.meta.get("exercise")
    return getattr(catalog.get(number).module("check"), "PRIVILEGES", None) if number else None


def command(
    handle: LabHandle, node: str, path: Path, trusted: bool, args: Sequence[str] = ()
) -> tuple[list[str], Path]:
    """How a file runs (with args) in its node: (argv, working folder). A student's is
    confined, and run with the exercise's privileges only (from a copy of its folder's
    files in the lab's run folder, readable by user nobody)."""
    cwd = path.parent
    argv = [*RUNNERS[path.suffix], str(path), *args]
    setup = []
    if not trusted and (keep := privileges(handle)):
        cwd = staged(handle, path)
        argv = [*keep.drop(), *RUNNERS[path.suffix], str(cwd / path.name), *args]
        setup = keep.setup(handle, cwd / "private")
    if node != ROOT:
        argv = in_netns(argv, handle.netns(node))
    return (argv if trusted else confined(argv, path, setup)), cwd


def staged(handle: LabHandle, path: Path) -> Path:
    """A copy of the files of path's folder that user nobody can read, in the lab's run
    folder, with an empty folder ``private`` for ``Privileges.setup``."""
    folder = handle.state.workdir / "student"
    folder.mkdir(mode=0o755, exist_ok=True)
    for source in path.parent.iterdir():
        if source.is_file():
            shutil.copyfile(source, folder / source.name)
            (folder / source.name).chmod(0o644)
    (folder / "private").mkdir(mode=0o755, exist_ok=True)
    return folder


def run_file(handle: LabHandle, path: Path, timeout: float = 120, trusted: bool = False) -> str:
    """Run one file in its node; a failure is a UserError quoting its last output.

    Files are confined (see ``confined``) unless trusted (the solution's)."""
    node = node_of(path)
    if node is None:
        raise UserError(f"{path.name} has no '# node: NAME' line saying where it runs.")
    handle.state.mark_processes()  # a controller or daemon it starts belongs to the lab
    if node == CONTROLLER:
        load_controller_app(handle, path, trusted)
        return f"{path.name} is the lab's controller now\n"
    if node == LAMBDA:
        from taplab.controllers.api_client import ControllerClient

        reply = ControllerClient.for_lab(handle).load_file(path)
        return f"loaded lambda {reply['name']} for {', '.join(reply['kinds'])} events\n"
    handle.set_meta(ran={**handle.meta.get("ran", {}), path.name: str(path)})
    if DAEMON_HEADER.search(path.read_text()[:2000]):
        return start_daemon(handle, node, path, trusted)
    argv, cwd = command(handle, node, path, trusted)
    proc = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env={**os.environ, "LAB": handle.id} if trusted else student_env(handle),
        start_new_session=True,
    )
    if proc.returncode != 0:
        lines = [
            line
            for line in (proc.stderr or proc.stdout).strip().splitlines()
            if not line.startswith("Try `")
        ]  # iptables' usage hint says nothing
        last = lines[-1:] or ["no output"]
        raise UserError(f"{path.name} failed in {node} (exit {proc.returncode}): {last[0]}")
    return proc.stdout


def runnable(folder: Path) -> list[Path]:
    """The runnable files of a folder, in the order they run."""
    return [p for p in sorted(folder.iterdir()) if p.is_file() and node_of(p)]


def run_folder(handle: LabHandle, folder: Path, trusted: bool = False) -> list[Path]:
    """Run every runnable file of folder in name order; return them."""
    files = runnable(folder)
    for path in files:
        run_file(handle, path, trusted=trusted)
    return files


def _stop_recorded(handle: LabHandle, pid: int | None) -> None:
    """Stop a process the lab recorded (a controller, a daemon), if it still runs."""
    for resource in handle.state.resources:
        if resource["kind"] == "process" and resource["pid"] == pid:
            ProcessId(pid, resource["started"]).stop(grace=resource.get("grace", 3.0))


def stop_daemons(handle: LabHandle) -> None:
    """Stop every daemon started from a student's or a solution's file."""
    for daemon in handle.meta.get("daemons", {}).values():
        _stop_recorded(handle, daemon["pid"])
    handle.set_meta(daemons={})


def start_daemon(handle: LabHandle, node: str, path: Path, trusted: bool = False) -> str:
    """Start (or restart) a daemon file in node; return once it says ready."""
    daemons = handle.meta.get("daemons", {})
    _stop_recorded(handle, daemons.get(path.name, {}).get("pid"))
    log = handle.workdir / f"{path.stem}.log"
    log.unlink(missing_ok=True)
    argv, cwd = command(handle, node, path, trusted)
    proc = handle.popen(
        argv,
        log=log.name,
        cwd=cwd,
        env={**os.environ, "LAB": handle.id} if trusted else student_env(handle),
    )
    handle.set_meta(daemons={**daemons, path.name: {"pid": proc.pid, "node": node}})
    ready.wait(proc, log, f"{path.name} in {node}", ready.marker(log, "ready"), READY_TIMEOUT)
    return f"{path.name} runs in {node} (pid {proc.pid}); its output: {log}\n"


def load_controller_app(handle: LabHandle, path: Path, trusted: bool = False) -> None:
    """Replace the lab's controller with one running the app in path; a student's app
    runs confined, with its exercise's privileges (see ``command``).

    The switch's flows are deleted first (they belong to the old app); loading
    is done once the switch is connected and the new app installed a flow (or
    after CONNECT_TIMEOUT for an app that installs none)."""
    from taplab.controllers import runtime

    switch = handle.meta.get("switch")
    if not switch:
        raise UserError(f"lab {handle.id} has no OVS switch for a controller app.")
    _stop_recorded(handle, handle.meta.get("controller", {}).get("pid"))
    run(["ovs-ofctl", "-O", "OpenFlow13", "del-flows", switch])
    app, wrap = path, None
    if not trusted and (keep := privileges(handle)):
        app = staged(handle, path) / path.name

        def wrap(argv: list[str]) -> list[str]:  # its last word: the controller's settings
            setup = keep.setup(handle, app.parent / "private", shown=argv[-1:])
            return confined([*keep.drop(), *argv], path, setup, own_pids=False)

    port = runtime.start(handle, [str(app)], wrap=wrap)
    run(["ovs-vsctl", "set-controller", switch, f"tcp:127.0.0.1:{port}"])

    def connected() -> bool:
        return (
            run(
                [
                    "ovs-vsctl",
                    "--bare",
                    "--columns=is_connected",
                    "find",
                    "controller",
                    f'target="tcp:127.0.0.1:{port}"',
                ],
                check=False,
            ).strip()
            == "true"
        )

    def has_flows() -> bool:
        out = run(["ovs-ofctl", "-O", "OpenFlow13", "dump-flows", switch], check=False)
        return "actions=" in out

    deadline = time.monotonic() + CONNECT_TIMEOUT
    while not connected():
        if time.monotonic() > deadline:
            raise UserError(
                f"{switch} did not connect to the controller running {path.name} "
                f"within {CONNECT_TIMEOUT:.0f} s; see {handle.workdir}/controller.log."
            )
        time.sleep(0.1)
    while not has_flows() and time.monotonic() < deadline:
        time.sleep(0.1)
