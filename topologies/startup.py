"""What a topology file asks of a built lab: link names and impairments, startup
commands, then its checks.

Once the builder is done, a link's ends get the names the file gives them
(``intf_a``, ``intf_b``, as alternative names) and its impairments (``taplab link``'s: rate, delay,
jitter, loss, corrupt, reorder, on both ends); then the ``exec:`` commands of
each node run in its namespace, in order; a failing one stops the build with
its last line of output. ``checks:``
are facts about the running lab (a command in a node, the exit code it must
end with, text its output must contain), verified by ``taplab lab FILE --check``
and ``taplab topo check FILE --lab ID``, each giving (description, passed, reason).
"""

import subprocess
from dataclasses import replace

from taplab import links
from taplab.errors import UserError
from taplab.impairments import Impairment
from taplab.shell import capture, run
from taplab.topologies.topofile import IMPAIRMENTS


def run_startup(lab, spec: dict) -> None:
    """Name and impair the file's links as it says, then run every node's ``exec``
    commands in that node."""
    for link in spec["links"]:
        _set_up_link(lab, link)
    for node in spec["nodes"]:
        for command in node.get("exec", []):
            proc = _sh(lab, node["name"], command, timeout=60)
            if proc.returncode != 0:
                last = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or ["no output"]
                raise UserError(
                    f"startup command '{command}' failed in {node['name']} "
                    f"(exit {proc.returncode}): {last[0]}"
                )


def _set_up_link(lab, link: dict) -> None:
    """Name a link's ends (``intf_a``, ``intf_b``: alternative names, which ``ip`` and
    ``tc`` take like the kernel's), then give it its impairments."""
    values = {k: link[k] for k in IMPAIRMENTS if k in link}
    names = [link.get("intf_a"), link.get("intf_b")]
    if not values and not any(names):
        return
    ends = links.find(lab, link["a"], peer=link["b"])
    named = []
    for end, name in zip(ends, names, strict=True):
        if end is not None and name and name != end.intf:
            if end.netns is None:
                raise UserError(
                    f"{end} is in the root namespace: only a node's end of a link can be named."
                )
            # Renaming would take the link down, and its addresses, routes and
            # neighbours with it: an alternative name leaves them be.
            run(
                ["ip", "link", "property", "add", "dev", end.intf, "altname", name], netns=end.netns
            )
            end = replace(end, intf=name)
        named.append(end)
    if values:
        links.impair(lab, tuple(named), Impairment.parse(**values))


def run_checks(lab, spec: dict) -> list[tuple[str, bool, str]]:
    """Every check of the file against the running lab: (description, passed, reason)."""
    return [_check(lab, check) for check in spec.get("checks", [])]


def _check(lab, check: dict) -> tuple[str, bool, str]:
    expected = check.get("exit", 0)
    description = f"{check['node']}: {check['run']}"
    try:
        proc = _sh(lab, check["node"], check["run"], timeout=check.get("timeout", 10))
    except subprocess.TimeoutExpired:
        return description, False, f"still running after {check.get('timeout', 10):g} s"
    output = proc.stdout + proc.stderr
    if proc.returncode != expected:
        last = output.strip().splitlines()[-1:] or ["no output"]
        return description, False, f"exit {proc.returncode}, not {expected}: {last[0]}"
    if check.get("output", "") not in output:
        return description, False, f"its output lacks '{check['output']}'"
    return (
        description,
        True,
        f"exit {proc.returncode}"
        + (f", output has '{check['output']}'" if "output" in check else ""),
    )


def _sh(lab, node: str, command: str, timeout: float) -> subprocess.CompletedProcess:
    return capture(
        ["sh", "-c", command], netns=lab.netns(node), timeout=timeout, stdin=subprocess.DEVNULL
    )
