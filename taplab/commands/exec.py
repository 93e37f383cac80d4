"""``taplab exec NODE [CMD...]``: a shell or a command inside a node of a running lab.

The command replaces this process (``ip netns exec``), so it has the terminal
when there is one, and its exit code is taplab's.
"""

import argparse
import os
import shlex

from taplab.commands import subcommand
from taplab.lab import LabHandle
from taplab.shell import in_netns


def register(sub) -> None:
    p = subcommand(
        sub,
        "exec",
        "open a shell in a node of a running lab, or run a command there",
        [
            "sudo taplab exec pod1",
            "sudo taplab exec pod1 ip -br addr",
            "sudo taplab exec --lab t1ab node1 bridge link",
        ],
    )
    p.add_argument("--lab", help="lab id (default: the only running lab)")
    p.add_argument("node", metavar="NODE", help="node name (see `taplab status ID`)")
    p.add_argument(
        "cmd",
        nargs=argparse.REMAINDER,
        metavar="CMD",
        help="command and its arguments (default: an interactive shell)",
    )
    p.set_defaults(func=run)


def argv(lab: LabHandle, node: str, cmd: list[str]) -> tuple[list[str], dict[str, str]]:
    """What to execute for node, and its environment: cmd, or bash with a prompt
    naming the node and the lab."""
    env = {**os.environ, "TAPLAB_LAB": lab.id, "TAPLAB_NODE": node}
    if not cmd:
        env["PS1"] = f"{node}@{lab.id}:\\w# "
        cmd = ["bash", "--norc"]  # interactive when stdin is a terminal
    return in_netns(cmd, lab.netns(node)), env


def run(args) -> int:
    lab = LabHandle.find(args.lab)
    command, env = argv(lab, args.node, args.cmd)
    try:
        os.execvpe(command[0], command, env)
    except OSError as exc:  # ip itself is missing: exec never returns otherwise
        raise SystemExit(f"taplab: cannot run {shlex.join(command)}: {exc.strerror}.") from None
