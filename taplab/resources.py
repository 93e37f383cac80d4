"""What a lab can create, and how each kind is removed.

A resource is a plain dict (so that it can be written to the state file the
moment it exists): ``{"kind": ..., ...identity...}``. ``remove`` dispatches on
the kind. Every remover is idempotent: removing what is already gone is fine.
"""

import os
import shutil
import signal
from collections.abc import Callable

from taplab.procs import ProcessId
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
    "path": _remove_path,
}


def remove(resource: Resource) -> None:
    """Remove one recorded resource; unknown kinds are an internal error."""
    REMOVERS[resource["kind"]](resource)


def describe(resource: Resource) -> str:
    """A short human name for a resource, for messages and `taplab clean`."""
    ident = resource.get("name") or resource.get("path") or resource.get("dev") or ""
    if resource["kind"] == "process":
        ident = f"{resource.get('cmd', '?')} (pid {resource['pid']})"
    return f"{resource['kind']} {ident}".strip()
