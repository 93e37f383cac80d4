"""Human output with rich, machine output as JSON."""

import json
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console()
errors = Console(stderr=True, soft_wrap=True)  # one sentence stays one line


def print_json(data: Any) -> None:
    """Print data as indented JSON on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


# Work that ends sooner says only how it ended: a user error stays one line.
QUIET_SECONDS = 0.5


@contextmanager
def progress(what: str) -> Iterator[None]:
    """A spinner while work runs on a terminal. Elsewhere (a pipe, a log, CI) plain
    lines on stderr, so that stdout keeps only the results: ``what`` once the work
    has taken QUIET_SECONDS, then ``what done``, or ``what failed`` if ``what``
    was printed."""
    if console.is_terminal:
        with console.status(escape(what)):
            yield
        return

    def say(line: str) -> None:
        errors.print(line, markup=False, highlight=False)

    said = threading.Event()
    announce = threading.Timer(QUIET_SECONDS, lambda: (say(what), said.set()))
    announce.daemon = True
    announce.start()
    try:
        yield
    except BaseException:
        announce.cancel()
        announce.join()
        if said.is_set():
            say(f"{what} failed")
        raise
    announce.cancel()
    announce.join()
    say(f"{what} done")


def table(*headers: str, **options) -> Table:
    """A rich Table whose cells wrap, and fold a word too long for its column,
    rather than cut it at the terminal's width."""
    return fold(Table(*headers, **options))


def fold(result: Table) -> Table:
    """Let every cell of result wrap, and fold a word too long for its column, rather
    than cut it at the terminal's width (80 columns when output is not a terminal)."""
    for column in result.columns:
        column.overflow, column.no_wrap = "fold", False
    return result
