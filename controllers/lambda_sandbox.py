"""Where a lambda worker runs: an unprivileged user, no network, its own session and cgroup.

    sandbox = Sandbox("t1ab-4242-synflood-3", serial=3)
    proc = subprocess.Popen(sandbox.command(argv), env=sandbox.env(), start_new_session=True, ...)
    sandbox.adopt(proc.pid)   # before the worker is given the user's code
    sandbox.kill()            # the worker and every process it started, then the cgroup

The worker is exec'd through ``unshare --net`` (an empty network namespace)
and ``setpriv``: a user id of its own (``worker_uid``: no other worker, of this
or any lab, can signal or trace it), the group ``taplab-lambda``, no
supplementary groups, no capabilities, no new privileges. Its cgroup (v2, under ``taplab/``) holds
every descendant, even one that starts its own session, and limits their memory,
tasks and CPU where cgroup v2 has those controllers (``limits_problem``); without
cgroup v2 the worker's process group is killed instead.
"""

import grp
import os
import pwd
import signal
import time
from pathlib import Path

USER = "taplab-lambda"
UID_BASE = 2**31  # worker user ids start here; none has a passwd entry
KILL_TIMEOUT = 5.0
# Limits of a worker's cgroup, where cgroup v2 has these controllers for taplab's:
# the address-space limit's 256 MB plus a worker's start-up size, its 64 tasks, one core.
LIMITS = {  # controller: (file, value)
    "memory": ("memory.max", str(384 * 2**20)),
    "pids": ("pids.max", "64"),
    "cpu": ("cpu.max", "100000 100000"),
}


class SandboxError(Exception):
    """The sandbox cannot be set up (no lambda user, no root)."""


def _cgroup_dir() -> Path | None:
    """Where taplab's cgroups are (``taplab/`` in the cgroup v2 hierarchy), None
    without cgroup v2."""
    with open("/proc/self/mounts") as mounts:
        found = [line.split()[1] for line in mounts if line.split()[2:3] == ["cgroup2"]]
    return Path(found[0]) / "taplab" if found else None


def cgroup_root() -> Path | None:
    """taplab's folder in the cgroup v2 hierarchy (created), or None without cgroup v2."""
    root = _cgroup_dir()
    if root is None:
        return None
    try:
        root.mkdir(exist_ok=True)
    except OSError:
        return None
    return root


def limits_problem() -> str | None:
    """Why workers' cgroups get no memory, task and CPU limits (None when they do):
    taplab's cgroup needs the memory, pids and cpu controllers, which this enables
    for it (from the hierarchy's root) where the hierarchy has them."""
    root = cgroup_root()
    if root is None:
        return "there is no cgroup v2 hierarchy"
    have = (root.parent / "cgroup.controllers").read_text().split()
    if missing := [c for c in LIMITS if c not in have]:
        return f"the cgroup v2 hierarchy has no {', '.join(missing)} controller"
    try:
        for folder in (root.parent, root):
            enabled = (folder / "cgroup.subtree_control").read_text().split()
            if wanted := [f"+{c}" for c in LIMITS if c not in enabled]:
                (folder / "cgroup.subtree_control").write_text(" ".join(wanted))
    except OSError as exc:
        return f"the {', '.join(LIMITS)} controllers cannot be enabled ({exc.strerror})"
    return None


def groups_of(lab_id: str) -> list[Path]:
    """The cgroups of a lab's lambda workers (their names start with its id)."""
    root = _cgroup_dir()
    if root is None or not root.is_dir():
        return []
    return sorted(g for g in root.glob(f"{lab_id}-*") if g.is_dir())


def user_problem() -> str | None:
    """Why workers cannot run as the lambda user (None when they can): the user and
    its group ``taplab-lambda`` must exist (``taplab doctor`` reports this)."""
    try:
        user = pwd.getpwnam(USER)
    except KeyError:
        return f"there is no user {USER}"
    try:
        group = grp.getgrnam(USER)
    except KeyError:
        return f"there is no group {USER}"
    if user.pw_gid != group.gr_gid:
        return f"the user {USER} is not in the group {USER}"
    return None


def lambda_user() -> pwd.struct_passwd:
    if problem := user_problem():
        raise SandboxError(f"{problem}: run 'sudo make install'.")
    return pwd.getpwnam(USER)


def sweep(root: Path) -> None:
    """Kill what is left in the groups of controllers that are gone (a ``kill -9`` gave
    them no chance), and remove those groups. A group is ``<lab>-<controller pid>-...``."""
    for group in root.iterdir():
        owner = group.name.split("-")[1:2]
        if (
            group.is_dir()
            and owner
            and owner[0].isdigit()
            and not os.path.exists(f"/proc/{owner[0]}")
        ):
            kill_group(group)


def members(group: Path) -> list[int]:
    try:
        return [int(p) for p in (group / "cgroup.procs").read_text().split()]
    except FileNotFoundError:
        return []


def kill_group(group: Path) -> None:
    """SIGKILL every process in a cgroup, then remove it (another controller may be
    removing it at the same time)."""
    deadline = time.monotonic() + KILL_TIMEOUT
    while time.monotonic() < deadline:
        try:
            pids = members(group)
            if not pids:
                group.rmdir()
                return
            if (group / "cgroup.kill").exists():
                (group / "cgroup.kill").write_text("1")
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
        except (FileNotFoundError, ProcessLookupError):
            if not group.exists():
                return
        except OSError:
            pass  # busy: a member is still exiting
        time.sleep(0.01)


def worker_uid(controller_pid: int, serial: int) -> int:
    """A user id no other live worker has: from its controller's pid (below 2**22 on
    Linux) and its serial in that controller (2**32 - 1 is not a valid id)."""
    return UID_BASE + controller_pid * 512 + serial % 511


def is_worker_uid(uid: int) -> bool:
    return uid >= UID_BASE


class Sandbox:
    """One worker's confinement: the command that enters it and the cgroup that holds it."""

    def __init__(self, name: str, serial: int):
        if os.geteuid() != 0:
            raise SandboxError("lambdas run only under a controller started as root.")
        self.uid, self.gid = worker_uid(os.getpid(), serial), lambda_user().pw_gid
        root = cgroup_root()
        self.group = root / name if root else None
        if self.group:
            sweep(root)
            self.group.mkdir()
            if limits_problem() is None:
                for name, value in LIMITS.values():
                    (self.group / name).write_text(value)
        self.pid: int | None = None

    def command(self, argv: list[str]) -> list[str]:
        return [
            "unshare",
            "--net",
            "--",
            "setpriv",
            f"--reuid={self.uid}",
            f"--regid={self.gid}",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--no-new-privs",
            "--",
            *argv,
        ]

    @staticmethod
    def env() -> dict[str, str]:
        """Nothing of the controller's environment but the lab's id (``taplab clean``
        finds a lab's processes by it)."""
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
        if "TAPLAB_LAB" in os.environ:
            env["TAPLAB_LAB"] = os.environ["TAPLAB_LAB"]
        return env

    def adopt(self, pid: int) -> None:
        """Put the just-started worker into the cgroup (its descendants follow)."""
        self.pid = pid
        if self.group:
            (self.group / "cgroup.procs").write_text(str(pid))

    def cpu_seconds(self) -> float:
        """CPU time used by the worker and its descendants (without a cgroup: the worker)."""
        try:
            if self.group:
                stat = dict(line.split() for line in (self.group / "cpu.stat").open())
                return int(stat["usage_usec"]) / 1e6
            with open(f"/proc/{self.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, KeyError, ValueError):  # gone
            return 0.0

    def kill(self) -> None:
        """SIGKILL the worker and all its descendants; remove the cgroup."""
        if self.group is None:
            if self.pid is not None:
                try:
                    os.killpg(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            return
        kill_group(self.group)
