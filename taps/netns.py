"""Switching this process between network namespaces (setns), for tap processes
that need sockets in two namespaces: a UDP socket in a lab node, and a path to
the lambda server on the root namespace's loopback::

    with inside("t1ab-collector"):
        sock = socket.socket(...); sock.bind(...)   # lives in the node for good
    # back in the original namespace

Only for single-threaded processes: setns moves the calling thread.
"""

import ctypes
import os
from collections.abc import Iterator
from contextlib import contextmanager

CLONE_NEWNET = 0x40000000


def _setns(fd: int, what: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), f"setns into {what} failed")


def enter(name: str) -> None:
    """Move this process into the named network namespace."""
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        _setns(fd, name)
    finally:
        os.close(fd)


@contextmanager
def inside(name: str) -> Iterator[None]:
    """Run the block in the named network namespace, then come back."""
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        enter(name)
        try:
            yield
        finally:
            _setns(home, "the original namespace")
    finally:
        os.close(home)
