"""Human output with rich, machine output as JSON."""

import json
import sys
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


@contextmanager
def progress(what: str) -> Iterator[None]:
    """A spinner while work runs on a terminal; elsewhere (a pipe, a log, CI) one
    plain line on stderr, so that stdout keeps only the results."""
    if console.is_terminal:
        with console.status(escape(what)):
            yield
    else:
        errors.print(what, markup=False, highlight=False)
        yield


def table(*headers: str, **options) -> Table:
    """A rich Table whose cells wrap, and fold a word too long for its column,
    rather than cut it at the terminal's width."""
    result = Table(**options)
    for header in headers:
        result.add_column(header, overflow="fold")
    return result
