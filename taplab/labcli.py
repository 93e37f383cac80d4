"""The interactive lab CLI: Mininet's CLI, with failures that scripts can see.

``--run`` lines go through the same commands as typed ones; a line fails when
a node command exits non-zero, ``pingall`` loses packets, or the command is
unknown.
"""

import sys
from cmd import Cmd
from select import poll

from mininet.cli import CLI
from mininet.log import error, output


class LabCLI(CLI):
    """Mininet's CLI bound to a taplab Lab."""

    prompt = "taplab> "

    def __init__(self, lab, stdin=sys.stdin):
        # Mininet's CLI.__init__ starts its loop at once; set up the same state without it.
        self.lab = lab
        self.mn = lab.net
        self.locals = {"net": lab.net, "lab": lab}
        self.inPoller = poll()
        self.inPoller.register(stdin)
        self.inputFile = None
        self.failed = False
        Cmd.__init__(self, stdin=stdin)

    def interact(self) -> None:
        """Read commands from the terminal until exit or EOF."""
        self.initReadline()
        self.run()

    def run_script(self, lines: list[str]) -> list[str]:
        """Run each line; return the lines that failed."""
        failures = []
        for line in lines:
            self.failed = False
            output(f"{self.prompt}{line}\n")
            self.onecmd(line)
            if self.failed:
                failures.append(line)
        return failures

    def do_pingall(self, line):
        """Ping between all hosts; fails on any loss."""
        if self.mn.pingAll(line) > 0:
            self.failed = True

    def do_pingallfull(self, line):
        """Ping between all hosts with full results; fails on any loss."""
        results = self.mn.pingAllFull()
        if any(sent != received for _src, _dst, (sent, received, *_rest) in results):
            self.failed = True

    def default(self, line):
        first, _args, _line = self.parseline(line)
        if first not in self.mn:
            error(f"*** Unknown command: {line}\n")
            self.failed = True
            return
        super().default(line)
        status = self.mn[first].cmd("echo $?").strip()
        if status != "0":
            self.failed = True
