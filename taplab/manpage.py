"""taplab(1), written from the command line parser, so it says what ``--help`` says.

python -m taplab.manpage > taplab.1        (make install puts it in man1/)
"""

import argparse
import sys

from taplab import __version__

SEE_ALSO = (
    "docs/walkthrough.md (a tour), docs/experiments.md (the published experiments "
    "and how to reproduce them), exercises/README.md (the graded exercises)."
)


def escape(text: str) -> str:
    """Text safe in roff: backslashes, hyphens, and lines that would start a request."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join("\\&" + ln if ln.startswith((".", "'")) else ln for ln in text.splitlines())


def _subcommands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*path, name), sub
                yield from _subcommands(sub, (*path, name))


def _usage(parser: argparse.ArgumentParser) -> list[str]:
    """The usage lines as argparse wraps them, kept as they are."""
    return [".nf", escape(parser.format_usage().removeprefix("usage: ").rstrip()), ".fi"]


def _options(parser: argparse.ArgumentParser) -> list[str]:
    formatter = parser._get_formatter()
    lines = []
    for action in parser._actions:
        if action.help == argparse.SUPPRESS or isinstance(
            action, (argparse._HelpAction, argparse._SubParsersAction)
        ):
            continue
        lines += [
            ".TP",
            f".B {escape(formatter._format_action_invocation(action))}",
            escape(formatter._expand_help(action) if action.help else ""),
        ]
    return lines


def _examples(parser: argparse.ArgumentParser) -> list[str]:
    _, found, rest = (parser.epilog or "").partition("examples:\n")
    if not found:
        return []
    return [".PP", "Examples:", ".PP", ".nf", ".RS 4", escape(rest.rstrip("\n")), ".RE", ".fi"]


def render(parser: argparse.ArgumentParser) -> str:
    """The whole man page of parser and its subcommands, as roff."""
    lines = [
        f'.TH TAPLAB 1 "" "taplab {__version__}" "User Commands"',
        ".SH NAME",
        f"taplab \\- {escape(parser.description or '')}",
        ".SH SYNOPSIS",
        *_usage(parser),
        ".SH OPTIONS",
        *_options(parser),
        ".SH COMMANDS",
    ]
    for path, sub in _subcommands(parser):
        lines += [
            f'.SS "taplab {" ".join(path)}"',
            escape(sub.description or ""),
            ".PP",
            *_usage(sub),
            *_options(sub),
            *_examples(sub),
        ]
    lines += [
        ".SH EXIT STATUS",
        "0 on success; 1 when a command or check fails; 2 for a "
        "mistake taplab explains in one sentence (an unknown name, a missing kernel "
        "feature, no root).",
        ".SH SEE ALSO",
        escape(SEE_ALSO),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    from taplab.cli import build_parser

    sys.stdout.write(render(build_parser()))
