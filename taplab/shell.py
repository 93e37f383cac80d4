"""Running commands: in the root namespace or in a named network namespace.

The one place that builds ``ip netns exec`` command lines::

    run(["ip", "-j", "addr"], netns="t3xk-pod1")          # combined output; raises on failure
    capture(["iptables-restore"], netns=ns, input=rules)   # CompletedProcess, stderr apart
    start(["tcpdump", "-i", "eth0"], netns=ns, stdout=PIPE)  # a Popen, in the background
    succeeds(["ping", "-c1", "10.0.0.2"], netns=ns)        # True when it exits 0

``LabHandle.sh`` and ``LabHandle.popen`` do the same for a lab's nodes by name.
"""

import shlex
import subprocess
from collections.abc import Sequence


class CommandFailed(RuntimeError):
    """A command exited non-zero; carries its output."""

    def __init__(self, argv: Sequence[str], code: int, output: str):
        self.argv, self.code, self.output = list(argv), code, output
        super().__init__(f"{shlex.join(argv)} exited {code}: {output.strip()}")


def in_netns(argv: Sequence[str], netns: str | None) -> list[str]:
    """argv as run inside named network namespace netns (as it is when netns is None)."""
    return ["ip", "netns", "exec", netns, *argv] if netns else list(argv)


def run(
    argv: Sequence[str],
    check: bool = True,
    netns: str | None = None,
    timeout: float = 60,
    input: str | None = None,
) -> str:
    """Run argv (inside netns when given) and return its combined output."""
    argv = in_netns(argv, netns)
    proc = subprocess.run(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        input=input,
    )
    if check and proc.returncode != 0:
        raise CommandFailed(argv, proc.returncode, proc.stdout)
    return proc.stdout


def capture(
    argv: Sequence[str],
    netns: str | None = None,
    timeout: float = 60,
    input: str | None = None,
    **kwargs,
) -> subprocess.CompletedProcess:
    """Run argv (inside netns when given) to completion, stdout and stderr apart, as
    text; its exit code is the caller's to judge."""
    return subprocess.run(
        in_netns(argv, netns),
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
        **kwargs,
    )


def start(argv: Sequence[str], netns: str | None = None, **kwargs) -> subprocess.Popen:
    """Start argv (inside netns when given) in the background; kwargs go to Popen.
    Nobody stops it for the caller: processes a lab must stop go through LabHandle.popen."""
    return subprocess.Popen(in_netns(argv, netns), **kwargs)


def succeeds(argv: Sequence[str], netns: str | None = None, timeout: float = 60) -> bool:
    """True when argv exits 0."""
    try:
        run(argv, check=True, netns=netns, timeout=timeout)
    except (CommandFailed, OSError, subprocess.TimeoutExpired):  # OSError: cannot start it
        return False
    return True
