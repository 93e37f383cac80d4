"""One module per ``taplab`` subcommand; each defines ``register(subparsers)``.
What several subcommands share is here."""

import argparse
import textwrap

from taplab.output import console, print_json
from taplab.traffic import groundtruth
from taplab.traffic.groundtruth import GroundTruth


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the lines of descriptions and examples as written, but wraps a line of
    prose too long for the terminal; indented lines (examples) stay whole."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "\n".join(
            indent + line
            if line[:1].isspace() or len(indent + line) <= width
            else textwrap.fill(line, width, initial_indent=indent, subsequent_indent=indent)
            for line in text.splitlines()
        )


def subcommand(sub, name: str, help: str, examples: list[str], **kwargs) -> argparse.ArgumentParser:
    """Add a subcommand whose help ends with examples."""
    epilog = "examples:\n" + "\n".join(f"  {e}" for e in examples)
    return sub.add_parser(
        name,
        help=help,
        description=help,
        epilog=epilog,
        formatter_class=HelpFormatter,
        **kwargs,
    )


def generator_options(p) -> None:
    """--lab, --out and --json, as every traffic and attack generator takes them."""
    p.add_argument("--lab", help="lab id (default: the only running lab)")
    p.add_argument("--out", metavar="DIR", help="also write the ground truth here")
    p.add_argument("--json", action="store_true", help="print the ground truth as JSON")


def print_run(args, lab, truth: GroundTruth) -> int:
    """Print a finished run and where its ground truth is."""
    if args.json:
        print_json(truth.as_dict())
        return 0
    role = "attacker" if truth.malicious else "client"
    console.print(
        f"[bold]{truth.kind}[/] by {truth.tool}: {role} {truth.attacker} "
        f"({', '.join(truth.attacker_ips)}) -> {', '.join(truth.targets[:4])}"
        f"{' ...' if len(truth.targets) > 4 else ''}, "
        f"{truth.end - truth.start:.1f}s, rate {truth.rate} {truth.rate_unit}"
    )
    console.print(f"  command: {truth.command}", markup=False, highlight=False)
    console.print(
        f"  ground truth: {groundtruth.folder(lab)}" + (f" and {args.out}" if args.out else ""),
        highlight=False,
    )
    return 0
