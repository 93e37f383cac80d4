"""Every taplab command's help shows its usage and examples that actually parse."""

import argparse
import re
import shlex
import subprocess
import sys

import pytest

from taplab.cli import build_parser
from tests.conftest import needs, taplab


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(path, parser) for every subcommand, nested ones included."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*path, name), sub
                yield from _commands(sub, (*path, name))


COMMANDS = list(_commands(build_parser()))


def examples(help_text: str) -> list[str]:
    """The command lines under ``examples:``, without their trailing comments."""
    _, found, rest = help_text.partition("\nexamples:\n")
    assert found, "no 'examples:' section"
    lines = [re.split(r"\s{2,}|\s+#", line.strip())[0] for line in rest.splitlines()]
    return [line for line in lines if line]


def as_argv(example: str) -> list[str] | None:
    """The taplab arguments of an example (lab CLI lines too), None for other commands."""
    argv = shlex.split(example)
    if argv[:1] == ["sudo"]:
        argv = argv[1:]
    if argv[:1] == ["taplab"]:
        return argv[1:]
    if argv[:1] == ["taplab>"] and argv[1:2] and argv[1] in _subparsers(build_parser()):
        return argv[1:]  # a taplab command in the lab CLI (not a Mininet one)
    return None


def test_commands_are_found():
    names = {path[0] for path, _ in COMMANDS}
    assert {"demo", "lab", "doctor", "clean"} <= names


def test_top_level_help_lists_commands_with_examples():
    result = taplab("--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: taplab")
    for path, _ in COMMANDS:
        if len(path) == 1:
            assert re.search(rf"^    {path[0]}\b", result.stdout, re.M), path
    assert any(as_argv(e) for e in examples(result.stdout))


@pytest.mark.parametrize("path,parser", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_subcommand_help_has_usage_and_examples_that_parse(path, parser):
    text = parser.format_help()
    assert text.startswith(f"usage: taplab {' '.join(path)}"), text[:80]
    runnable = [argv for argv in map(as_argv, examples(text)) if argv is not None]
    assert runnable, f"taplab {' '.join(path)} has no example using taplab"
    top = build_parser()
    for argv in runnable:
        if "--lab" not in argv and _takes_lab(top, argv):
            argv = [*argv, "--lab", "x"]  # lab CLI lines get --lab from the lab
        args = top.parse_args(argv)
        assert callable(getattr(args, "func", None)), argv


def _takes_lab(parser, argv):
    from taplab.labcli import _takes_lab as takes

    return takes(_subparsers(parser)[argv[0]], argv[1:])


def _subparsers(parser) -> dict:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


def test_help_from_the_shell_shows_an_example():
    result = taplab("demo", "--help")
    assert result.returncode == 0
    assert "usage: taplab demo" in result.stdout
    assert "sudo taplab demo" in examples(result.stdout)[0]


@needs("iptables")
def test_lab_cli_help_gives_an_example_for_every_taplab_command():
    from taplab.labcli import LAB_COMMANDS

    result = taplab("lab", "cluster", "--run", "help", "--run", "help measure")
    assert result.returncode == 0, result.stdout + result.stderr
    present = [c for c in LAB_COMMANDS if c in _subparsers(build_parser())]
    assert "measure" in present
    for name in present:  # "measure   measure pod1 pod3 --rate 100M"
        assert re.search(rf"^\s*{name}\s+{name} \S", result.stdout, re.M), name
    assert "usage: taplab measure" in result.stdout


def test_the_man_page_has_every_command_and_option_and_renders_cleanly(tmp_path):
    from taplab.manpage import render

    page = render(build_parser())
    sections = page.split(".SS ")
    for path, parser in COMMANDS:
        section = next(s for s in sections if s.startswith(f'"taplab {" ".join(path)}"\n'))
        terms = " ".join(ln for ln in section.splitlines() if ln.startswith(".B "))
        for action in parser._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help") and action.help != argparse.SUPPRESS:
                    assert option.replace("-", "\\-") in terms, (path, option)
    lab = next(s for s in sections if s.startswith('"taplab lab"'))
    assert "hold" not in lab  # hidden options stay hidden
    (tmp_path / "taplab.1").write_text(page)
    groff = subprocess.run(
        ["groff", "-man", "-Tutf8", "-ww", "-z", str(tmp_path / "taplab.1")],
        capture_output=True,
        text=True,
    )
    assert groff.returncode == 0
    problems = [ln for ln in groff.stderr.splitlines() if "cannot adjust line" not in ln]
    assert problems == [], problems


def _complete(script: str, line: str) -> list[str]:
    words = line.split(" ")
    bash = (
        f"source {script}; COMP_WORDS=({' '.join(shlex.quote(w) for w in words)}); "
        f"COMP_CWORD={len(words) - 1}; COMP_LINE={shlex.quote(line)}; "
        'COMP_POINT=${#COMP_LINE}; _shtab_taplab; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    out = subprocess.run(["bash", "--norc", "-c", bash], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return sorted(out.stdout.split())


def test_bash_completion_written_from_the_parser_completes_commands_and_options(tmp_path):
    script = tmp_path / "taplab.bash"
    made = subprocess.run(
        [
            sys.executable,
            "-m",
            "shtab",
            "--shell=bash",
            "--error-unimportable",
            "taplab.cli.build_parser",
        ],
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr
    script.write_text(made.stdout)
    assert _complete(script, "taplab ca") == ["capture"]
    assert _complete(script, "taplab link --r") == ["--rate", "--reorder"]
    assert "--detach" in _complete(script, "taplab lab cluster --de")
