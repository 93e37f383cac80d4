"""Running an exercise's files in the live lab.

A runnable file (``.sh`` or ``.py``) names the node it runs in on a header
line, ``# node: node1``. It runs inside that node's network namespace with
``LAB`` set to the lab id, so it can reach other nodes' namespaces as
``$LAB-pod1`` (``ip -n "$LAB-pod1" ...``, ``ip link set X netns "$LAB-pod1"``).
``solve`` runs every runnable file of ``solution/`` in name order.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

from taplab.errors import UserError
from taplab.lab import LabHandle

NODE_HEADER = re.compile(r"^#\s*node:\s*(\S+)\s*$", re.MULTILINE)
RUNNERS = {".sh": ["sh", "-e"], ".py": [sys.executable]}


def node_of(path: Path) -> str | None:
    """The node a file runs in (its ``# node:`` header), None if it is not runnable."""
    if path.suffix not in RUNNERS:
        return None
    match = NODE_HEADER.search(path.read_text()[:2000])
    return match[1] if match else None


def run_file(handle: LabHandle, path: Path, timeout: float = 120) -> str:
    """Run one file in its node; a failure is a UserError quoting its last output."""
    node = node_of(path)
    if node is None:
        raise UserError(f"{path.name} has no '# node: NAME' line saying where it runs.")
    argv = ["ip", "netns", "exec", handle.netns(node), *RUNNERS[path.suffix], str(path)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          cwd=path.parent, env={**os.environ, "LAB": handle.id})
    if proc.returncode != 0:
        lines = [line for line in (proc.stderr or proc.stdout).strip().splitlines()
                 if not line.startswith("Try `")]  # iptables' usage hint says nothing
        last = lines[-1:] or ["no output"]
        raise UserError(f"{path.name} failed in {node} (exit {proc.returncode}): {last[0]}")
    return proc.stdout


def runnable(folder: Path) -> list[Path]:
    """The runnable files of a folder, in the order they run."""
    return [p for p in sorted(folder.iterdir()) if p.is_file() and node_of(p)]


def run_folder(handle: LabHandle, folder: Path) -> list[Path]:
    """Run every runnable file of folder in name order; return them."""
    files = runnable(folder)
    for path in files:
        run_file(handle, path)
    return files
