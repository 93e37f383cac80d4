"""Runs one lambda file in its own process, with a time and a memory limit.

Server side, ``LambdaWorker`` spawns the process, feeds it batches of events
from a bounded queue and hands the actions back. Worker side, ``_serve`` runs
the lambda's ``@on`` functions:

- time limit: a watchdog thread interrupts an invocation that runs longer than
  ``time_limit`` (counted as ``timeouts``); if the lambda does not give back
  control within one more second, or holds the interpreter so that the
  watchdog's heartbeat stops, the server kills the process and starts a new
  one (``kills``);
- memory limit: the address space is capped at start-up size + ``memory_mb``;
  a MemoryError is counted (``memory``) and the worker restarted;
- a raising invocation is counted (``errors``) and logged with its traceback.

Events travel as tuples; telemetry stays as raw flow-record payloads until the
worker decodes them, so the server's receive path stays cheap.
"""

import _thread
import collections
import mmap
import os
import queue
import resource
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback
from multiprocessing.connection import Connection

from taplab.controllers.lambda_context import Context, LogBuffer
from taplab.controllers.telemetry import FLOW_RECORD, decode_flow_record, flow_events, iter_events

from taplab.lambdas import Event

BATCH = 256
QUEUE_MAX = 4096  # items (a telemetry item is a whole transaction)
START_TIMEOUT = 20.0


def percentile_ms(seconds, q: float) -> float | None:
    """The q-quantile (0..1) of durations in seconds, in milliseconds; None when empty."""
    ordered = sorted(seconds)
    return round(ordered[int(q * (len(ordered) - 1))] * 1000, 3) if ordered else None


class LambdaLoadError(Exception):
    """A lambda file that does not load: syntax error, raises at import, no @on function."""


class TimeLimit(BaseException):
    """Raised inside a lambda that ran past its time limit (not caught by ``except Exception``)."""


def compile_lambda(name: str, source: str):
    """A lambda's code object; LambdaLoadError naming the line of a syntax error."""
    try:
        return compile(source, name, "exec")
    except SyntaxError as exc:
        raise LambdaLoadError(f"{name} has a syntax error at line {exc.lineno}: {exc.msg}.") \
            from None


def handlers_of(name: str, source: str) -> dict[str, list]:
    """Execute a lambda's source; return its @on functions by event kind."""
    code = compile_lambda(name, source)
    namespace: dict = {"__name__": f"taplab_lambda_{os.path.basename(name)}"}
    try:
        exec(code, namespace)  # noqa: S102 - running the user's lambda is the point
    except Exception as exc:  # noqa: BLE001 - any failure of user code is reported
        raise LambdaLoadError(f"{name} failed while loading: {type(exc).__name__}: {exc}.") \
            from None
    handlers: dict[str, list] = {}
    for value in namespace.values():
        for kind in getattr(value, "__taplab_kinds__", ()):
            handlers.setdefault(kind, []).append(value)
    if not handlers:
        raise LambdaLoadError(f"{name} has no function decorated with @on(...): "
                              "add one, e.g. @on(\"packet_in\").")
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
    return [_flow_event(arrival, dpid, *decode_flow_record(e.payload))
            if e.event_id == FLOW_RECORD else
            Event("telemetry", arrival, dpid, None, None,
                  {"event_id": e.event_id, "payload": e.payload})
            for e in iter_events(raw, end)]


def _flow_event(arrival, dpid, src, dst, proto, sport, dport, packets, nbytes, syn, rst,
                empty_udp) -> Event:
    return Event("telemetry", arrival, dpid, src, dst, {
        "proto": proto, "sport": sport, "dport": dport, "packets": packets, "bytes": nbytes,
        "syn": syn, "rst": rst, "empty_udp": empty_udp, "event_id": FLOW_RECORD})


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


class _Calls:
    """The worker's invocation counter; ``running`` is 0 between invocations."""

    count = 0
    running = 0


def _watch(parent: int, clock: SharedClock, calls: _Calls, time_limit: float) -> None:
    """Exit with the server; interrupt an invocation that runs too long; beat."""
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
        if running and running != interrupted and now - since > time_limit:
            interrupted = running
            _thread.interrupt_main(signal.SIGALRM)


def _on_alarm(_signum, _frame):
    raise TimeLimit()


def main(argv: list[str]) -> None:
    """Worker process: ``python -m taplab.controllers.lambda_worker CONN_FD TIME_FD PARENT``."""
    conn = Connection(int(argv[0]))
    name, source, time_limit, memory_mb = conn.recv()
    _serve(conn, name, source, SharedClock(int(argv[1])), time_limit, memory_mb, int(argv[2]))


def _serve(conn, name: str, source: str, clock: SharedClock, time_limit: float,
           memory_mb: int, parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGALRM, _on_alarm)
    calls = _Calls()
    threading.Thread(target=_watch, args=(parent, clock, calls, time_limit),
                     daemon=True).start()
    try:
        handlers = handlers_of(name, source)
    except LambdaLoadError as exc:
        conn.send(("error", str(exc)))
        return
    size = int(open("/proc/self/statm").read().split()[0]) * resource.getpagesize()
    limit = size + memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
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
    out = {"actions": [], "invocations": 0, "errors": 0, "timeouts": 0, "memory": 0,
           "durations": []}
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
    if result is None:
        return []
    return list(result) if isinstance(result, list | tuple) else [result]


class LambdaWorker:
    """The server's handle on one lambda: queue, worker process, counters, logs.

    on_actions(name, arrival_time, actions) is called from the worker's thread.
    """

    def __init__(self, name: str, source: str, on_actions, time_limit: float = 1.0,
                 memory_mb: int = 256, topology=lambda: (0, None)):
        self.name, self.source, self.on_actions = name, source, on_actions
        self.time_limit, self.memory_mb, self.topology = time_limit, memory_mb, topology
        self.kinds: list[str] = []
        self.queue: queue.Queue = queue.Queue(QUEUE_MAX)
        self.logs: collections.deque = collections.deque(maxlen=2000)
        self.durations: collections.deque = collections.deque(maxlen=5000)
        self.counts = collections.Counter()
        self.loaded_at = time.time()
        self._stop = threading.Event()
        self._proc: subprocess.Popen | None = None
        self._conn: Connection | None = None
        self._clock = SharedClock(os.memfd_create(f"lambda-{name}"))
        self._topology_version = -1

    def start(self) -> None:
        """Start the worker; raises LambdaLoadError when the file does not load."""
        self._spawn()
        threading.Thread(target=self._loop, name=f"lambda-{self.name}", daemon=True).start()

    def _spawn(self) -> None:
        ours, theirs = socket.socketpair()
        self._clock.write(0.0, time.monotonic())
        with theirs:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "taplab.controllers.lambda_worker", str(theirs.fileno()),
                 str(self._clock.fd), str(os.getpid())],
                pass_fds=(theirs.fileno(), self._clock.fd), stdin=subprocess.DEVNULL)
        self._conn = parent_end = Connection(ours.detach())
        parent_end.send((self.name, self.source, self.time_limit, self.memory_mb))
        self._topology_version = -1
        if not parent_end.poll(START_TIMEOUT):
            self._kill()
            raise LambdaLoadError(f"{self.name} did not start within {START_TIMEOUT:.0f} s.")
        try:
            status, detail = parent_end.recv()
        except EOFError:
            status, detail = "error", f"{self.name}: its worker died while loading."
        if status == "error":
            self._kill()
            raise LambdaLoadError(detail)
        self.kinds = detail

    def submit(self, item: tuple) -> bool:
        """Queue an event item; False (and counted) when the queue is full."""
        try:
            self.queue.put_nowait(item)
            return True
        except queue.Full:
            self.counts["dropped"] += 1
            return False

    def stop(self) -> None:
        self._stop.set()
        self._kill()
        os.close(self._clock.fd)

    def _kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(2)
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                items = [self.queue.get(timeout=0.2)]
            except queue.Empty:
                continue
            while len(items) < BATCH:
                try:
                    items.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._run(items)
            except (OSError, EOFError) as exc:
                if self._stop.is_set():
                    return
                self.logs.append(f"worker failed ({exc}); restarting")
                self._restart("crashes")

    def _run(self, items: list) -> None:
        version, data = self.topology()
        send_topology = data if version != self._topology_version else None
        self._conn.send((send_topology, items))
        self._topology_version = version
        while not self._conn.poll(0.05):
            started, heartbeat = self._clock.read()
            now, grace = time.monotonic(), self.time_limit + 1.0
            if (started and now - started > grace) or now - heartbeat > grace:
                self.logs.append(f"{self.name} ignored its time limit: worker killed")
                self.counts["timeouts"] += 1
                self._restart("kills")
                return
            if self._proc.poll() is not None or self._stop.is_set():
                raise EOFError("worker exited")
        reply = self._conn.recv()
        for key in ("invocations", "errors", "timeouts", "memory"):
            self.counts[key] += reply[key]
        self.durations.extend(reply["durations"])
        self.logs.extend(reply["logs"])
        for arrival, actions in reply["actions"]:
            self.on_actions(self.name, arrival, actions)
        if reply["memory"]:
            self._restart("restarts")

    def _restart(self, reason: str) -> None:
        self.counts[reason] += 1
        self._kill()
        try:
            self._spawn()
        except LambdaLoadError as exc:
            self.logs.append(f"cannot restart: {exc}; lambda stopped")
            self._stop.set()

    def describe(self) -> dict:
        d = list(self.durations)
        alive = self._proc is not None and self._proc.poll() is None
        return {"name": self.name, "kinds": self.kinds, "loaded_at": self.loaded_at,
                "queue": self.queue.qsize(), "alive": alive,
                "invocations": self.counts["invocations"], "errors": self.counts["errors"],
                "timeouts": self.counts["timeouts"], "memory": self.counts["memory"],
                "crashes": self.counts["crashes"], "kills": self.counts["kills"],
                "restarts": self.counts["restarts"],
                "dropped": self.counts["dropped"], "p50_ms": percentile_ms(d, 0.5),
                "p99_ms": percentile_ms(d, 0.99)}


if __name__ == "__main__":
    main(sys.argv[1:])
