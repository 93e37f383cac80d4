"""Errors a user can cause: one sentence that says what to do, exit code 2."""

import os


class UserError(Exception):
    """A mistake the user can fix; the CLI prints the message and exits with code 2."""

    exit_code = 2


def require_root(what: str) -> None:
    """Raise a UserError unless running as root."""
    if os.geteuid() != 0:
        raise UserError(f"{what} needs root: run it with sudo.")
