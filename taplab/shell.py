"""Running commands: in the root namespace or in a named network namespace."""

import shlex
import subprocess
from collections.abc import Sequence


class CommandFailed(RuntimeError):
    """A command exited non-zero; carries its output."""

    def __init__(self, argv: Sequence[str], code: int, output: str):
        self.argv, self.code, self.output = list(argv), code, output
        super().__init__(f"{shlex.join(argv)} exited {code}: {output.strip()}")


def run(argv: Sequence[str], check: bool = True, netns: str | None = None,
        timeout: float = 60) -> str:
    """Run argv (inside netns when given) and return its combined output."""
    if netns:
        argv = ["ip", "netns", "exec", netns, *argv]
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise CommandFailed(argv, proc.returncode, proc.stdout)
    return proc.stdout


def succeeds(argv: Sequence[str], netns: str | None = None, timeout: float = 60) -> bool:
    """True when argv exits 0."""
    try:
        run(argv, check=True, netns=netns, timeout=timeout)
    except (CommandFailed, FileNotFoundError, subprocess.TimeoutExpired):
        return False
    return True
