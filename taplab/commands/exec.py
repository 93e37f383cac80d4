"""``taplab exec NODE [CMD...]``: a shell or a command inside a node of a running lab.

As in Mininet's CLI, a word of CMD that is a node's name becomes that node's
address (``taplab exec pod1 ping pod2``). The command replaces this process
(``ip netns exec``), so it has the terminal when there is one, and its exit
code is taplab's.
"""

import argparse
import json
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
            "sudo taplab exec pod1 ping -c3 pod2   # pod2: its address",
            "sudo taplab exec --raw pod1 getent hosts pod2",
            "sudo taplab exec --lab t1ab node1 bridge link",
        ],
    )
    p.description += (
        ".\n\nAs in Mininet's CLI, a word of CMD that is the name of a node of the lab\n"
        "is replaced by that node's address (its first IPv4 address, else its first\n"
        "global IPv6 one); --raw runs CMD as given. Options go before NODE."
    )
    p.add_argument("--lab", help="lab id (default: the only running lab)")
    p.add_argument(
        "--raw", action="store_true", help="do not replace node names in CMD by their addresses"
    )
    p.add_argument("node", metavar="NODE", help="node name (see `taplab status ID`)")
    p.add_argument(
        "cmd",
        nargs=argparse.REMAINDER,
        metavar="CMD",
        help="command and its arguments (default: an interactive shell)",
    )
    p.set_defaults(func=run)


def address(lab: LabHandle, node: str) -> str | None:
    """The node's first IPv4 address, else its first global IPv6 one (None: neither)."""
    out = lab.sh(node, ["ip", "-j", "addr", "show", "scope", "global"], check=False)
    found = [a for link in json.loads(out or "[]") for a in link.get("addr_info", [])]
    for family in ("inet", "inet6"):
        for addr in found:
            if addr.get("family") == family:
                return addr["local"]
    return None


def substitute(lab: LabHandle, cmd: list[str]) -> list[str]:
    """cmd with each word that is a node's name replaced by the node's address
    (a node without one keeps its name)."""
    nodes = lab.nodes
    return [(word in nodes and address(lab, word)) or word for word in cmd]


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
    lab.netns(args.node)  # an unknown node is named before its command's words
    cmd = args.cmd if args.raw else substitute(lab, args.cmd)
    command, env = argv(lab, args.node, cmd)
    try:
        os.execvpe(command[0], command, env)
    except OSError as exc:  # ip itself is missing: exec never returns otherwise
        raise SystemExit(f"taplab: cannot run {shlex.join(command)}: {exc.strerror}.") from None
