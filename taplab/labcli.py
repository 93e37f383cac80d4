"""The interactive lab CLI: Mininet's CLI plus taplab's commands.

Typed and ``--run`` lines go through the same commands; a line fails when a
node command exits non-zero, ``pingall`` loses packets, a taplab command
returns non-zero, or the command is unknown. taplab commands (``tap``,
``attack``, ``traffic``, ``lambda``, ``detect``, ``measure``, ``topo``, ``link``,
``capture``) are the ``taplab`` subcommands of the same name, run on this lab::

    taplab> measure pod1 pod2 --time 3
    taplab> tap attach pod2 --kind ebpf
"""

import os
import re
import shlex
import sys
from cmd import Cmd
from select import poll

from mininet.cli import CLI
from mininet.log import error, output
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from taplab.errors import UserError
from taplab.output import console

LAB_COMMANDS = (
    "tap",
    "attack",
    "traffic",
    "lambda",
    "detect",
    "measure",
    "topo",
    "link",
    "capture",
)
# Examples for Mininet's own commands; taplab commands take theirs from their help.
MININET_EXAMPLES = {
    "pingall": "pingall",
    "nodes": "nodes",
    "net": "net",
    "dump": "dump",
    "links": "links",
    "sh": "sh ovs-vsctl show",
    "py": "py lab.meta['pods']",
    "exit": "exit",
}


class LabCLI(CLI):
    """Mininet's CLI bound to a taplab Lab."""

    prompt = "taplab> "

    def __init__(self, lab, stdin=sys.stdin, stdout=None):
        # Mininet's CLI.__init__ starts its loop at once; set up the same state without it.
        self.lab = lab
        self.mn = lab.net
        self.locals = {"net": lab.net, "lab": lab}
        self.inPoller = poll()
        self.inPoller.register(stdin)
        self.inputFile = None
        self.failed = False
        self._parser = None
        Cmd.__init__(self, stdin=stdin, stdout=stdout)

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

    def interact_or_run(self, script: list[str] | None, greeting: str) -> int:
        """With no script, greet and read the terminal; else run the script and
        name its failed lines. The exit code: 1 if a line failed, else 0."""
        if not script:
            console.print(greeting)
            self.interact()
            return 0
        failures = self.run_script(script)
        for line in failures:
            console.print(f"[red]failed:[/] {escape(line)}", highlight=False)
        return 1 if failures else 0

    # -- Mininet commands, with failures visible ---------------------------
    def do_pingall(self, line):
        """Ping between all hosts, over IPv6 to a host without IPv4; fails on any loss."""
        if ping_all(self.mn, line.strip() or None) > 0:
            self.failed = True

    def do_pingallfull(self, line):
        """Ping between all hosts with full results; fails on any loss."""
        results = self.mn.pingAllFull()
        if any(sent != received for _src, _dst, (sent, received, *_rest) in results):
            self.failed = True

    def do_xterm(self, line, term="xterm"):
        """Open a terminal window on nodes; fails without a display (use `taplab exec`)."""
        if not os.environ.get("DISPLAY"):
            error(
                f"*** {term} needs a display (DISPLAY is not set): in another terminal, "
                "`sudo taplab exec NODE` opens a shell in a node.\n"
            )
            self.failed = True
            return
        before = len(self.mn.terms)
        super().do_xterm(line, term)
        if len(self.mn.terms) - before < len(line.split()) or not line.split():
            self.failed = True

    def do_link(self, line):
        """link NODE[:INTF] [PEER] --rate 20mbit --delay 20ms ...: impair a link (taplab
        link); link NODE1 NODE2 up|down: Mininet's, bring a link up or down."""
        words = line.split()
        if len(words) == 3 and words[2] in ("up", "down"):
            super().do_link(line)
            return
        self.run_taplab(f"link {line}")

    def default(self, line):
        first, _args, _line = self.parseline(line)
        if first in LAB_COMMANDS:
            self.run_taplab(line)
            return
        if first not in self.mn:
            error(f"*** Unknown command: {line}\n")
            self.failed = True
            return
        super().default(line)
        status = self.mn[first].cmd("echo $?").strip()
        if status != "0":
            self.failed = True

    # -- taplab commands -----------------------------------------------------
    @property
    def parser(self):
        if self._parser is None:
            from taplab.cli import build_parser

            self._parser = build_parser()
        return self._parser

    def _subcommands(self) -> dict:
        action = next(a for a in self.parser._actions if a.dest == "command")
        return action.choices

    def run_taplab(self, line: str) -> None:
        """Run a taplab subcommand on this lab (``--lab`` is filled in)."""
        argv = shlex.split(line)
        sub = self._subcommands().get(argv[0])
        if sub is None:
            error(f"*** {argv[0]} is not available in this installation\n")
            self.failed = True
            return
        if _takes_lab(sub, argv[1:]):
            argv += ["--lab", self.lab.id]
        try:
            args = self.parser.parse_args(argv)
            if not getattr(args, "func", None):
                code = 2
            else:
                with Progress(
                    SpinnerColumn(),
                    TextColumn("{task.description}"),
                    TimeElapsedColumn(),
                    console=console,
                    transient=True,
                ) as bar:
                    bar.add_task(line)
                    code = args.func(args)
        except SystemExit as exc:  # argparse: usage error or --help
            code = exc.code or 0
        except UserError as exc:
            error(f"*** {exc}\n")
            code = 2
        if code:
            self.failed = True

    def example(self, name: str) -> str:
        """One example line for a command, as typed at this prompt."""
        if name in MININET_EXAMPLES:
            return MININET_EXAMPLES[name]
        sub = self._subcommands().get(name)
        lines = (sub.epilog or "").splitlines() if sub else []
        typed = [
            ln.strip()[len(self.prompt) :] for ln in lines if ln.strip().startswith(self.prompt)
        ]
        shell = [ln.strip().split("taplab ", 1)[1] for ln in lines if "taplab " + name in ln]
        return re.split(r"\s{2,}", (typed or shell or [name])[0])[0]

    def do_help(self, arg):
        """help [COMMAND]: list commands with an example each, or show one command."""
        if arg in LAB_COMMANDS and arg in self._subcommands():
            self._subcommands()[arg].print_help()
            return
        if arg:
            super().do_help(arg)
            return
        table = Table(
            "command",
            "example",
            title="lab CLI commands (help NAME for more)",
            box=None,
            title_justify="left",
        )
        for name in (*MININET_EXAMPLES, *(c for c in LAB_COMMANDS if c in self._subcommands())):
            table.add_row(name, self.example(name))
        table.add_row("NODE CMD", "pod1 ping -c1 pod2   (any command, in a node)")
        console.print(table)

    def completenames(self, text, *ignored):
        """Complete the first word: commands, taplab commands and node names."""
        names = super().completenames(text, *ignored)
        return (
            names
            + [c for c in LAB_COMMANDS if c.startswith(text)]
            + self.completedefault(text, "", 0, 0)
        )

    def completedefault(self, text, line, begidx, endidx):
        """Complete node names anywhere after the command."""
        return sorted(n for n in self.mn if n.startswith(text))


def address(host) -> str | None:
    """A host's IPv4 address, else its first global IPv6 one (None: it has neither)."""
    if host.IP():
        return host.IP()
    found = re.search(r"inet6 ([0-9a-f:]+)/", host.cmd("ip -6 -o addr show scope global"))
    return found.group(1) if found else None


def ping_all(net, timeout: str | None = None) -> float:
    """Mininet's pingAll, with the same output, that also reaches IPv6-only hosts;
    returns the percentage of pings lost."""
    output("*** Ping: testing ping reachability\n")
    sent = received = 0
    targets = {host: address(host) for host in net.hosts}
    for node in net.hosts:
        output(f"{node.name} -> ")
        for dest, addr in targets.items():
            if dest is node:
                continue
            got = 0
            if addr:
                wait = f"-W {timeout} " if timeout else ""
                got = net._parsePing(node.cmd(f"ping -c1 {wait}{addr}"))[1]
            sent, received = sent + 1, received + min(got, 1)
            output(f"{dest.name} " if got else "X ")
        output("\n")
    lost = 100.0 * (sent - received) / sent if sent else 0.0
    output(
        f"*** Results: {int(lost)}% dropped ({received}/{sent} received)\n"
        if sent
        else "*** Warning: No packets sent\n"
    )
    return lost


def _takes_lab(parser, argv: list[str]) -> bool:
    """True if the (possibly nested) subcommand named in argv accepts --lab."""
    if "--lab" in argv:
        return False
    for action in parser._actions:
        if "--lab" in action.option_strings:
            return True
        if action.choices and isinstance(action.choices, dict):
            nested = next((a for a in argv if a in action.choices), None)
            if nested is not None:
                return _takes_lab(action.choices[nested], argv)
    return False
