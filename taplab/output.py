"""Human output with rich, machine output as JSON."""

import json
import sys
from typing import Any

from rich.console import Console

console = Console()
errors = Console(stderr=True, soft_wrap=True)  # one sentence stays one line


def print_json(data: Any) -> None:
    """Print data as indented JSON on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()
