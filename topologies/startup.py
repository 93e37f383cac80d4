"""What a topology file asks of a built lab: startup commands, then its checks.

``exec:`` commands of a node run in its namespace, in order, once the builder is
done; a failing one stops the build with its last line of output. ``checks:``
are facts about the running lab (a command in a node, the exit code it must
end with, text its output must contain), verified by ``taplab lab FILE --check``
and ``taplab topo check FILE --lab ID``, each giving (description, passed, reason).
"""

import subprocess

from taplab.errors import UserError


def run_startup(lab, spec: dict) -> None:
    """Run every node's ``exec`` commands in that node."""
    for node in spec["nodes"]:
        for command in node.get("exec", []):
            proc = _sh(lab, node["name"], command, timeout=60)
            if proc.returncode != 0:
                last = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or ["no output"]
                raise UserError(
                    f"startup command '{command}' failed in {node['name']} "
                    f"(exit {proc.returncode}): {last[0]}"
                )


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
    return subprocess.run(
        ["ip", "netns", "exec", lab.netns(node), "sh", "-c", command],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
