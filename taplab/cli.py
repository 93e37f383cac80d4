"""The ``taplab`` command: discovers subcommands in ``taplab.commands``.

Each module in ``taplab/commands/`` defines ``register(subparsers)`` that adds
its parser and sets ``func`` (taking the parsed args, returning an exit code).
"""

import argparse
import errno
import importlib
import pkgutil
import sys

from rich.markup import escape

from taplab import __version__, commands
from taplab.errors import UserError
from taplab.output import errors

EPILOG = """examples:
  sudo taplab doctor                     what this kernel can do, its fallbacks
  sudo taplab lab cluster --run pingall  build a lab, run a command, remove it
  sudo taplab clean                      remove what a killed lab left behind
"""


# A file or folder the user named that cannot be used: their mistake, in one sentence.
FILE_ERRORS = {
    errno.ENOENT,
    errno.EACCES,
    errno.EPERM,
    errno.EISDIR,
    errno.ENOTDIR,
    errno.EEXIST,
    errno.EROFS,
    errno.ENOSPC,
    errno.ENAMETOOLONG,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="taplab",
        description="A teaching testbed for container and pod networking.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"taplab {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and Mininet logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in pkgutil.iter_modules(commands.__path__):
        importlib.import_module(f"taplab.commands.{module.name}").register(sub)
    for command in sub.choices.values():
        _share_examples(command)
    return parser


def _share_examples(parser: argparse.ArgumentParser) -> None:
    """Give nested subcommands without examples (``tap attach``) their parent's
    examples that use them."""
    nested = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
    if nested is None or not parser.epilog:
        return
    command = parser.prog.split(" ", 1)[1]
    for name, child in nested.choices.items():
        lines = [ln for ln in parser.epilog.splitlines()[1:] if f"{command} {name}" in ln]
        if lines and not child.epilog:
            child.epilog = "examples:\n" + "\n".join(lines)
            child.formatter_class = argparse.RawDescriptionHelpFormatter


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # to run again (--detach)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args) or 0
    except UserError as exc:
        if args.debug:
            raise
        errors.print(f"[bold red]taplab:[/] {escape(str(exc))}", highlight=False)
        return exc.exit_code
    except KeyboardInterrupt:
        errors.print("taplab: interrupted; everything the lab created was removed.")
        return 130
    except Exception as exc:
        if args.debug:
            raise
        if isinstance(exc, OSError) and exc.errno in FILE_ERRORS and exc.filename:
            errors.print(
                f"[bold red]taplab:[/] {escape(str(exc.filename))}: {escape(exc.strerror)}.",
                highlight=False,
            )
            return 2
        errors.print(
            f"[bold red]taplab: internal error:[/] {escape(str(exc))} "
            "(run again with --debug for the traceback).",
            highlight=False,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
