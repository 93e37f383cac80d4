"""What a lab can create, and how each kind is removed.

A resource is a plain dict (so that it can be written to the state file the
moment it exists): ``{"kind": ..., ...identity...}``. ``remove`` dispatches on
the kind. Every remover is idempotent: removing what is already gone is fine.
"""

import os
import shutil
import signal
from collections.abc import Callable
from pathlib import Path

from taplab.controllers.lambda_sandbox import groups_of, kill_group
from taplab.procs import ProcessId, start_time
from taplab.shell import run, succeeds

Resource = dict


def netns_pids(name: str) -> list[int]:
    """Pids of the processes inside named network namespace name."""
    out = run(["ip", "netns", "pids", name], check=False)
    return [int(p) for p in out.split() if p.isdigit()]


def _remove_netns(r: Resource) -> None:
    if not os.path.exists(f"/run/netns/{r['name']}"):
        return
    for pid in netns_pids(r["name"]):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    run(["ip", "netns", "delete", r["name"]], check=False)


def _remove_process(r: Resource) -> None:
    ProcessId(r["pid"], r["started"]).stop(grace=r.get("grace", 3.0))


def _remove_link(r: Resource) -> None:
    ns = r.get("netns")
    if ns and not os.path.exists(f"/run/netns/{ns}"):
        return
    if succeeds(["ip", "link", "show", "dev", r["name"]], netns=ns):
        run(["ip", "link", "delete", "dev", r["name"]], check=False, netns=ns)


def _remove_ovs_bridge(r: Resource) -> None:
    run(["ovs-vsctl", "--timeout=10", "--if-exists", "del-br", r["name"]], check=False)


def _remove_qdisc(r: Resource) -> None:
    ns = r.get("netns")
    if ns and not os.path.exists(f"/run/netns/{ns}"):
        return
    run(["tc", "qdisc", "del", "dev", r["dev"], *r["parent"].split()], check=False, netns=ns)


def _remove_iptables(r: Resource) -> None:
    ns = r.get("netns")
    if ns and not os.path.exists(f"/run/netns/{ns}"):
        return
    rule = r["rule"].split()
    while succeeds([r.get("cmd", "iptables"), "-t", r["table"], "-C", *rule], netns=ns):
        run([r.get("cmd", "iptables"), "-t", r["table"], "-D", *rule], netns=ns)


def _remove_sysctl(r: Resource) -> None:
    run(["sysctl", "-q", "-w", f"{r['key']}={r['old']}"], check=False)


RPS_WRITE = 'for q in /sys/class/net/"$1"/queues/rx-*; do echo "$2" > "$q/rps_cpus"; done'


def write_rps(dev: str, mask: str, netns: str | None, check: bool = True) -> None:
    """Set the receive packet steering mask of every receive queue of dev."""
    run(["sh", "-c", RPS_WRITE, "sh", dev, mask], check=check, netns=netns)


def _remove_rps(r: Resource) -> None:
    ns = r.get("netns")
    if not ns or os.path.exists(f"/run/netns/{ns}"):  # else the device went with its pod
        write_rps(r["dev"], r["old"], ns, check=False)


def _remove_cgroup(r: Resource) -> None:
    kill_group(Path(r["path"]))


def _remove_path(r: Resource) -> None:
    path = r["path"]
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.unlink(path)


REMOVERS: dict[str, Callable[[Resource], None]] = {
    "process": _remove_process,
    "netns": _remove_netns,
    "link": _remove_link,
    "ovs_bridge": _remove_ovs_bridge,
    "qdisc": _remove_qdisc,
    "iptables": _remove_iptables,
    "sysctl": _remove_sysctl,
    "rps": _remove_rps,
    "path": _remove_path,
    "cgroup": _remove_cgroup,
}


# The fields each kind needs to be removed, with their types.
FIELDS: dict[str, dict[str, type]] = {
    "process": {"pid": int, "started": int},
    "netns": {"name": str},
    "link": {"name": str},
    "ovs_bridge": {"name": str},
    "qdisc": {"dev": str, "parent": str},
    "iptables": {"table": str, "rule": str},
    "sysctl": {"key": str},
    "rps": {"dev": str, "old": str},
    "path": {"path": str},
    "cgroup": {"path": str},
}


def problem(resource) -> str | None:
    """Why a recorded entry cannot be removed as it is (None when it can)."""
    if not isinstance(resource, dict):
        return f"an entry that is not a resource ({type(resource).__name__})"
    kind = resource.get("kind")
    if kind not in FIELDS:
        return f"an entry of unknown kind {kind!r}"
    for key, kind_type in FIELDS[kind].items():
        value = resource.get(key)
        if not isinstance(value, kind_type) or isinstance(value, bool):
            return f"{describe(resource)} without a valid {key!r}"
    return None


def remove(resource: Resource) -> None:
    """Remove one recorded resource; unknown kinds are an internal error."""
    REMOVERS[resource["kind"]](resource)


def describe(resource: Resource) -> str:
    """A short human name for a resource, for messages and `taplab clean`."""
    ident = resource.get("name") or resource.get("path") or resource.get("dev") or ""
    if resource.get("kind") == "process":
        ident = f"{resource.get('cmd', '?')} (pid {resource.get('pid', '?')})"
    return f"{resource.get('kind', '?')} {ident}".strip()


# Every process a lab starts carries its id in this environment variable.
LAB_ENV = "TAPLAB_LAB"


def _lab_of(pid: str) -> str | None:
    """The lab id process pid was started with in ``$TAPLAB_LAB``, if any."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            entries = f.read().split(b"\0")
    except OSError:  # gone
        return None
    prefix = f"{LAB_ENV}=".encode()
    return next((e[len(prefix) :].decode() for e in entries if e.startswith(prefix)), None)


def _command(pid: str) -> str:
    """The last three words of a process's command line (as the lab records them)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return " ".join(f.read().decode(errors="replace").split("\0")[:-1][-3:])
    except OSError:
        return "?"


def leftovers(workdirs: dict[str, str]) -> dict[str, list[Resource]]:
    """What still exists of each lab (its id to its runtime folder), found by name,
    not by its record.

    Lambda workers' cgroups are ``<id>-...``, namespaces are ``<id>-<node>``,
    root-namespace links and OVS bridges start with the id, processes carry it in
    ``$TAPLAB_LAB``, and the lab's runtime files are in its folder. Each lab's in
    removal order: cgroups (a worker's child may have dropped ``$TAPLAB_LAB``),
    processes, namespaces, links, OVS bridges, files.
    """
    found: dict[str, list[Resource]] = {
        lab_id: [{"kind": "cgroup", "path": str(g)} for g in groups_of(lab_id)]
        for lab_id in workdirs
    }
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != os.getpid() and (lab := _lab_of(pid)) in found:
            if (started := start_time(int(pid))) is not None:
                found[lab].append(
                    {"kind": "process", "pid": int(pid), "started": started, "cmd": _command(pid)}
                )
    named = [("netns", n) for n in _netns_names()] + [("link", n) for n in _root_links()]
    named += [("ovs_bridge", n) for n in _ovs_bridges()]
    for kind, name in named:
        for lab_id in found:
            if name.startswith(f"{lab_id}-" if kind == "netns" else lab_id):
                found[lab_id].append({"kind": kind, "name": name})
    for lab_id, workdir in workdirs.items():
        found[lab_id] += [
            {"kind": "path", "path": p} for p in (workdir, f"{workdir}.lock") if os.path.lexists(p)
        ]
    return found


def owned_by(lab_id: str, workdir: str) -> list[Resource]:
    """What still exists of one lab (see ``leftovers``)."""
    return leftovers({lab_id: workdir})[lab_id]


def _netns_names() -> list[str]:
    return [
        line.split()[0]
        for line in run(["ip", "netns", "list"], check=False).splitlines()
        if line.strip()
    ]


def _root_links() -> list[str]:
    """Interface names of the root namespace (without ``@peer``)."""
    return [
        line.split(":")[1].strip().split("@")[0]
        for line in run(["ip", "-o", "link", "show"], check=False).splitlines()
        if line.count(":") >= 2
    ]


def _ovs_bridges() -> list[str]:
    if not os.path.exists("/run/openvswitch/db.sock"):
        return []  # OVS is not running: no bridges, and ovs-vsctl would wait
    return run(["ovs-vsctl", "--timeout=10", "list-br"], check=False).split()


def name_taken(prefix: str) -> bool:
    """Whether a namespace, root link or OVS bridge name starts with prefix (a new lab
    id must not: clean finds a lab's leftovers by that prefix)."""
    names = [*_netns_names(), *_root_links(), *_ovs_bridges()]
    return any(name.startswith(prefix) for name in names)
