"""The worker process that runs one lambda file, with a time and a memory limit.

``lambda_supervisor`` starts it (``python -m taplab.controllers.lambda_worker``),
feeds it batches of events and takes the actions back. Here ``_serve`` runs
the lambda's ``@on`` functions:

- time limit: a watchdog thread interrupts an invocation that runs longer than
  ``time_limit`` (counted as ``timeouts``), and a load of the file that runs
  longer than ``LOAD_LIMIT`` (it does not load); if the lambda does not give back
  control within one more second, or holds the interpreter so that the
  watchdog's heartbeat stops, the server kills the process and starts a new
  one (``kills``);
- memory limit: the address space is capped at start-up size + ``memory_mb``
  before the lambda's file is loaded (a file that allocates more at load does
  not load); a MemoryError later is counted (``memory``) and the worker
  restarted; the worker may not write files, dump core, or run more than
  ``MAX_TASKS`` tasks (it has a user id of its own);
- a raising invocation is counted (``errors``) and logged with its traceback.

Events travel as tuples; telemetry stays as raw flow-record payloads until the
worker decodes them, so the server's receive path stays cheap.
"""

import _thread
import mmap
import os
import resource
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from collections.abc import Iterable
from multiprocessing.connection import Connection

from taplab.controllers.lambda_context import Context, LogBuffer
from taplab.controllers.telemetry import (
    FLOW_RECORD,
    decode_flow_record,
    flow_counters,
    flow_events,
    iter_events,
)
from taplab.lambdas import Action, Event

WORKER_NICE = 5
LOAD_LIMIT = 5.0  # seconds to run the lambda's file
MAX_TASKS = 64  # processes and threads of the worker's user id


class LambdaLoadError(Exception):
    """A lambda file that does not load: syntax error, raises at import, no @on function."""


class TimeLimit(BaseException):
    """Raised inside a lambda that ran past its time limit (not caught by ``except Exception``)."""


def compile_lambda(name: str, source: str):
    """A lambda's code object; LambdaLoadError naming the line of a syntax error."""
    try:
        return compile(source, name, "exec")
    except SyntaxError as exc:
        raise LambdaLoadError(
            f"{name} has a syntax error at line {exc.lineno}: {exc.msg}."
        ) from None


def handlers_of(name: str, source: str) -> dict[str, list]:
    """Execute a lambda's source; return its @on functions by event kind."""
    code = compile_lambda(name, source)
    namespace: dict = {"__name__": f"taplab_lambda_{os.path.basename(name)}"}
    try:
        exec(code, namespace)  # noqa: S102 - running the user's lambda is the point
    except Exception as exc:  # noqa: BLE001 - any failure of user code is reported
        raise LambdaLoadError(
            f"{name} failed while loading: {type(exc).__name__}: {exc}."
        ) from None
    handlers: dict[str, list] = {}
    for value in namespace.values():
        for kind in getattr(value, "__taplab_kinds__", ()):
            if value not in handlers.setdefault(kind, []):  # bound under two names
                handlers[kind].append(value)
    if not handlers:
        raise LambdaLoadError(
            f'{name} has no function decorated with @on(...): add one, e.g. @on("packet_in").'
        )
    return handlers


def to_events(item: tuple) -> list[Event]:
    """Events from a queued item; telemetry items carry a checked raw transaction."""
    kind, arrival, dpid, src, dst, data = item
    if kind != "telemetry_raw":
        return [Event(kind, arrival, dpid, src, dst, data)]
    raw, end = data
    rows = flow_events(raw, end)
    if rows is not None:
        ntoa = socket.inet_ntoa
        return [_flow_event(arrival, dpid, ntoa(r[3]), ntoa(r[4]), *r[5:]) for r in rows]
    return [
        _flow_event(arrival, dpid, *decode_flow_record(e.payload))
        if e.event_id == FLOW_RECORD
        else Event(
            "telemetry", arrival, dpid, None, None, {"event_id": e.event_id, "payload": e.payload}
        )
        for e in iter_events(raw, end)
    ]


def _flow_event(arrival, dpid, src, dst, *counters) -> Event:
    data = flow_counters(*counters)
    data["event_id"] = FLOW_RECORD
    return Event("telemetry", arrival, dpid, src, dst, data)


class SharedClock:
    """Two times both processes see (CLOCK_MONOTONIC): when the running invocation
    started (0: idle), and the watchdog's last heartbeat."""

    LAYOUT = struct.Struct("dd")

    def __init__(self, fd: int):
        if os.fstat(fd).st_size < self.LAYOUT.size:
            os.ftruncate(fd, self.LAYOUT.size)
        self.fd = fd
        self._map = mmap.mmap(fd, self.LAYOUT.size)

    def read(self) -> tuple[float, float]:
        return self.LAYOUT.unpack_from(self._map)

    def write(self, started: float, heartbeat: float) -> None:
        self.LAYOUT.pack_into(self._map, 0, started, heartbeat)

    def close(self) -> None:
        self._map.close()
        os.close(self.fd)


class _Calls:
    """The worker's invocation counter; ``running`` is 0 between invocations, and
    ``limit`` the time the running one (or the load) may take."""

    count = 0
    running = 0
    limit = LOAD_LIMIT


def _watch(parent: int, clock: SharedClock, calls: _Calls) -> None:
    """Exit with the server; interrupt an invocation (or the load) that runs too long; beat."""
    seen = interrupted = 0
    since = 0.0
    while True:
        time.sleep(0.02)
        if os.getppid() != parent:
            os._exit(0)
        now, running = time.monotonic(), calls.running
        if running != seen:
            seen, since = running, now
        clock.write(since if running else 0.0, now)
        if running and running != interrupted and now - since > calls.limit:
            interrupted = running
            _thread.interrupt_main(signal.SIGALRM)


def limit_resources(memory_mb: int) -> None:
    """Cap this process before it runs the lambda's code (hard limits: no way back)."""
    with open("/proc/self/statm") as statm:
        size = int(statm.read().split()[0]) * resource.getpagesize()
    for which, value in (
        (resource.RLIMIT_AS, size + memory_mb * 2**20),
        (resource.RLIMIT_NPROC, MAX_TASKS),
        (resource.RLIMIT_FSIZE, 0),
        (resource.RLIMIT_CORE, 0),
    ):
        resource.setrlimit(which, (value, value))


def _on_alarm(_signum, _frame):
    raise TimeLimit()


def main(argv: list[str]) -> None:
    """Worker process: ``python -m taplab.controllers.lambda_worker CONN_FD TIME_FD PARENT``."""
    os.nice(WORKER_NICE)  # receiving and acknowledging telemetry comes first
    conn = Connection(int(argv[0]))
    name, source, time_limit, memory_mb = conn.recv()
    _serve(conn, name, source, SharedClock(int(argv[1])), time_limit, memory_mb, int(argv[2]))


def _serve(
    conn, name: str, source: str, clock: SharedClock, time_limit: float, memory_mb: int, parent: int
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGALRM, _on_alarm)
    calls = _Calls()
    threading.Thread(target=_watch, args=(parent, clock, calls), daemon=True).start()
    limit_resources(memory_mb)
    calls.running = -1
    try:
        handlers = handlers_of(name, source)
    except LambdaLoadError as exc:
        conn.send(("error", str(exc)))
        return
    except TimeLimit:
        conn.send(("error", f"{name} took longer than {LOAD_LIMIT:.0f} s to load."))
        return
    calls.running, calls.limit = 0, time_limit
    logs = LogBuffer()
    ctx = Context(name, logs)
    conn.send(("ready", sorted(handlers)))
    while True:
        try:
            topology, items = conn.recv()
        except EOFError:
            return
        if topology is not None:
            ctx.set_topology(topology)
        reply = _run_batch(handlers, ctx, items, calls)
        reply["logs"] = logs.take()
        conn.send(reply)
        if reply["memory"]:
            return  # the server starts a fresh worker


def _run_batch(handlers: dict, ctx: Context, items: list, calls: _Calls) -> dict:
    out = {
        "actions": [],
        "invocations": 0,
        "errors": 0,
        "timeouts": 0,
        "memory": 0,
        "durations": [],
    }
    for item in items:
        try:
            events = to_events(item)
        except ValueError as exc:
            ctx.log.warning("undecodable event dropped: %s", exc)
            continue
        for event in events:
            for fn in handlers.get(event.kind, ()):
                outcome = _invoke(fn, event, ctx, calls, out)
                if outcome:
                    out["actions"].append((event.time, outcome))
                if out["memory"]:
                    return out
    return out


def _invoke(fn, event: Event, ctx: Context, calls: _Calls, out: dict) -> list:
    out["invocations"] += 1
    calls.count += 1
    calls.running = calls.count
    started = time.monotonic()
    try:
        result = fn(event, ctx)
        if result is None or isinstance(result, Action | str):
            result = [] if result is None else [result]
        elif isinstance(result, Iterable):
            result = list(result)  # a generator runs here, under the time limit
        else:
            result = [result]
    except TimeLimit:
        out["timeouts"] += 1
        ctx.log.error("%s stopped: ran past its time limit", fn.__name__)
        return []
    except MemoryError:
        out["memory"] += 1
        ctx.log.error("%s stopped: exceeded its memory limit", fn.__name__)
        return []
    except Exception:  # noqa: BLE001 - a raising lambda is counted, the rest go on
        out["errors"] += 1
        ctx.log.error("%s raised:\n%s", fn.__name__, traceback.format_exc(limit=-3))
        return []
    finally:
        calls.running = 0
    out["durations"].append(time.monotonic() - started)
    actions = [a for a in result if isinstance(a, Action)]
    if len(actions) < len(result):
        out["errors"] += 1
        ctx.log.error(
            "%s returned %r: not an action (Alert, Block, Mirror, RateLimit or "
            "InstallFlow); dropped",
            fn.__name__,
            next(a for a in result if not isinstance(a, Action)),
        )
    return actions


if __name__ == "__main__":
    main(sys.argv[1:])
