"""Ryu's hub timeouts on os-ken's native thread hub.

On Ryu's eventlet hub, ``hub.Timeout(seconds)`` starts when it is made and raises
itself in the thread that made it, interrupting a blocking ``Event.wait()`` or
``sleep()``; ``stplib``'s port timers are built on that::

    timeout = hub.Timeout(15)
    try:
        event.wait()                  # raises timeout after 15 s unless set first
    except hub.Timeout:
        ...                           # LISTEN -> LEARN -> FORWARD
    finally:
        timeout.cancel()

os-ken's native hub neither starts such a Timeout nor interrupts a wait, so STP
ports stay in LISTEN. ``install()`` replaces ``hub.Timeout``, ``hub.Event`` and
``hub.sleep``: a Timeout is armed for the thread that made it, and waits in that
thread wake at its deadline and raise it.
"""

import threading
import time

from os_ken.lib import hub

_local = threading.local()


def _armed() -> list:
    """This thread's armed timeouts."""
    if not hasattr(_local, "timeouts"):
        _local.timeouts = []
    return _local.timeouts


class Timeout(BaseException):
    """Armed on creation for the creating thread; ``cancel()`` (or leaving ``with``) disarms."""

    def __init__(self, seconds: float | None = None, exception=None):
        super().__init__(seconds)
        self.seconds, self.exception = seconds, exception
        self.deadline = None if seconds is None else time.monotonic() + seconds
        self._owner = _armed()
        if self.deadline is not None:
            self._owner.append(self)

    def start(self) -> "Timeout":
        return self

    def cancel(self) -> None:
        if self in self._owner:
            self._owner.remove(self)

    def __enter__(self) -> "Timeout":
        return self

    def __exit__(self, typ, value, tb) -> bool:
        self.cancel()
        return value is self and self.exception is False  # Timeout(s, False) ends quietly

    def fire(self):
        """Disarm and raise: the exception given, or this timeout itself."""
        self.cancel()
        if self.exception not in (None, True, False):
            raise self.exception
        raise self


def _wait(flag: threading.Event, seconds: float | None) -> bool:
    """flag.wait(seconds), raising this thread's first armed timeout at its deadline."""
    limit = None if seconds is None else time.monotonic() + seconds
    while not flag.is_set():
        first = min(_armed(), key=lambda t: t.deadline, default=None)
        deadlines = [d for d in (limit, first and first.deadline) if d is not None]
        now = time.monotonic()
        if deadlines and min(deadlines) <= now:
            if first is not None and first.deadline <= now:
                first.fire()
            return False
        flag.wait(min(deadlines) - now if deadlines else None)
    return True


class Event:
    """os-ken's hub.Event (set, clear, is_set, wait) whose waits armed timeouts end."""

    def __init__(self):
        self._flag = threading.Event()

    def set(self) -> None:
        self._flag.set()

    def clear(self) -> None:
        self._flag.clear()

    def is_set(self) -> bool:
        return self._flag.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return _wait(self._flag, timeout)


def sleep(seconds: float = 0) -> None:
    """time.sleep, ended early by an armed timeout of this thread."""
    if _armed():
        _wait(threading.Event(), seconds)
    else:
        time.sleep(seconds)


def install() -> None:
    """Use these in os-ken's native hub (idempotent; eventlet's hub is left alone)."""
    if hub.HUB_TYPE == "native":
        hub.Timeout, hub.Event, hub.sleep = Timeout, Event, sleep
