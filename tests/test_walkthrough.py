"""docs/walkthrough.md, typed into a real terminal (pexpect), section by section.

In each ``console`` block, ``$ CMD`` lines go to a bash shell and ``taplab> CMD``
lines to the lab CLI; the lines after a command must appear in what it printed
(in order; ``...`` matches anything; runs of spaces count as one). ``python
FILE`` blocks are written to FILE first. Every shell command must exit 0.
"""

import os
import re
import sys
from pathlib import Path

import pexpect
import pytest

from taplab.state import recorded_labs
from tests.conftest import needs, taplab

DOC = Path(__file__).resolve().parents[1] / "docs" / "walkthrough.md"
SHELL_PROMPT = "walk$ "
LAB_PROMPT = "taplab> "
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


def sections() -> list[tuple[str, list[tuple[str, str]]]]:
    """(heading, blocks) for each section with console blocks; a block is (info, text)."""
    found = []
    for part in re.split(r"^## ", DOC.read_text(), flags=re.M)[1:]:
        heading = part.splitlines()[0]
        blocks = re.findall(r"^```(console|python [\w.]+)\n(.*?)^```", part, flags=re.M | re.S)
        if any(info == "console" for info, _ in blocks):
            found.append((heading, blocks))
    return found


def steps(text: str) -> list[tuple[str, str, list[str]]]:
    """(kind, command, expected lines) for each command of a console block."""
    result = []
    for line in text.splitlines():
        if line.startswith("$ "):
            result.append(("shell", line[2:], []))
        elif line.startswith(LAB_PROMPT):
            result.append(("lab", line[len(LAB_PROMPT) :], []))
        elif line.strip():
            result[-1][2].append(line)
    return result


def _squash(text: str) -> str:
    return " ".join(text.split())


def shows(output: str, expected: list[str]) -> str | None:
    """None if every expected line appears in output, in order; else the first missing one."""
    lines = [_squash(ln) for ln in ANSI.sub("", output).splitlines()]
    at = 0
    for want in expected:
        pattern = ".*".join(re.escape(_squash(f)) for f in want.split("..."))
        while at < len(lines) and not re.search(pattern, lines[at]):
            at += 1
        if at == len(lines):
            return want
        at += 1
    return None


class Terminal:
    """bash in a pseudo-terminal, wide enough that rich does not wrap tables."""

    def __init__(self, cwd: Path):
        env = {
            **os.environ,
            "PS1": SHELL_PROMPT,
            "TERM": "xterm-256color",
            "COLUMNS": "200",
            "LINES": "50",
        }
        env.pop("TAPLAB_OUTPUT", None)  # labs write into ./labs/, as the docs show
        self.child = pexpect.spawn(
            "bash",
            ["--norc", "--noprofile"],
            cwd=str(cwd),
            env=env,
            encoding="utf-8",
            dimensions=(50, 200),
            use_poll=True,  # select() fails on descriptors above 1023
            timeout=180,
        )
        self.transcript = ""
        self.child.expect_exact(SHELL_PROMPT)
        # This test runs as root: sudo (often not installed in CI) is a no-op, and
        # taplab is this checkout's, run by the test's interpreter.
        self.type(
            f'sudo() {{ "$@"; }}; taplab() {{ {sys.executable} -m taplab.cli "$@"; }}', SHELL_PROMPT
        )

    def type(self, command: str, prompt: str) -> str:
        """Type a command; return what it printed up to the next prompt."""
        self.child.sendline(command)
        self.child.expect_exact(prompt)
        out = self.child.before
        self.transcript += f"{command}\n{out}"
        return out

    def close(self) -> None:
        """Leave a lab CLI (tearing its lab down) if one is open, then bash."""
        for _ in range(3):
            if not self.child.isalive():
                return
            self.child.sendcontrol("u")  # drop a half-typed line
            self.child.sendline("exit")
            self.child.expect([pexpect.EOF, SHELL_PROMPT], timeout=120)


@pytest.mark.parametrize("heading,blocks", sections(), ids=[h for h, _ in sections()])
@needs("vxlan", "iperf3")
def test_walkthrough_section(heading, blocks, tmp_path):
    commands = []
    for info, text in blocks:
        if info.startswith("python "):
            (tmp_path / info.split()[1]).write_text(text)
        else:
            commands += steps(text)
    running = {state.id for state in recorded_labs()}
    term = Terminal(tmp_path)
    try:
        for i, (kind, command, expected) in enumerate(commands):
            after = commands[i + 1][0] if i + 1 < len(commands) else "shell"
            out = term.type(command, LAB_PROMPT if after == "lab" else SHELL_PROMPT)
            missing = shows(out, expected)
            assert missing is None, f"`{command}` did not print {missing!r}:\n{out}"
            if after == "shell" and kind == "shell" or (kind, command) == ("lab", "exit"):
                code = term.type("echo rc=$?", SHELL_PROMPT)
                assert "rc=0" in code, f"`{command}` failed ({code.strip()}):\n{out}"
    finally:
        term.close()
        for state in recorded_labs():  # a detached lab of a section that failed
            if state.id not in running and state.owner().alive():
                taplab("lab", "stop", state.id)


def test_the_walkthrough_has_the_tour_the_issue_asks_for():
    text = DOC.read_text()
    assert text.index("vagrant up") < text.index("lambda load")
    assert {"doctor", "lab", "demo"} <= {
        cmd.split()[2]
        for _, blocks in sections()
        for info, body in blocks
        if info == "console"
        for kind, cmd, _ in steps(body)
        if kind == "shell" and cmd.startswith("sudo taplab")
    }


@needs("vxlan")
def test_tab_completes_node_names_in_the_lab_cli(tmp_path):
    term = Terminal(tmp_path)
    try:
        term.type("sudo taplab lab cluster --nodes 2 --pods 2", LAB_PROMPT)
        term.child.send("pod1 ping -c1 -W2 no\t")  # node1 and node2: completes to "node"
        term.child.expect("-W2 no\x07?de", timeout=10)  # readline rings, then completes
        term.child.send("2")
        out = term.type("", LAB_PROMPT)
        assert shows(out, ["1 packets transmitted, 1 received"]) is None, out
        term.child.send("pod\t\t")  # two tabs list the candidates
        term.child.expect(r"pod1\s+pod2\s+pod3\s+pod4", timeout=10)
        term.child.send("\x15")  # clear the line
        term.type("exit", SHELL_PROMPT)
    finally:
        term.close()
