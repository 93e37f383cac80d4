"""The lambda server's handle on one lambda: its queue, worker process, counters, logs.

``LambdaSupervisor`` starts the worker process (``lambda_worker``) in its
sandbox (``lambda_sandbox``), sends it batches of queued events, hands the
actions back to the server, and kills and restarts the worker when it ignores
its time limit, runs out of memory, uses CPU outside its calls (more than
``CPU_SHARE`` of a core: a thread or child of its own spinning) or dies.
Restarts back off exponentially (``BACKOFF`` s doubling up to ``BACKOFF_MAX``);
after ``GIVE_UP`` failures in a row without a batch done, the lambda is given
up: state ``gave up``, its events dropped and counted, until it is loaded again.
"""

import collections
import itertools
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection

from taplab.controllers.lambda_sandbox import Sandbox, SandboxError
from taplab.controllers.lambda_worker import LambdaLoadError, SharedClock

BATCH = 256
QUEUE_MAX = 4096  # items (a telemetry item is a whole transaction)
START_TIMEOUT = 20.0
BACKOFF, BACKOFF_MAX, GIVE_UP = 0.25, 8.0, 6
CPU_SHARE, CPU_BURST = 0.05, 2.0  # of a core outside calls (idle: 0.3 %); seconds of slack
RUNNING, RESTARTING, GAVE_UP, STOPPED = "running", "restarting", "gave up", "stopped"
_workers = itertools.count(1)


def percentile_ms(seconds, q: float) -> float | None:
    """The q-quantile (0..1) of durations in seconds, in milliseconds; None when empty."""
    ordered = sorted(seconds)
    return round(ordered[int(q * (len(ordered) - 1))] * 1000, 3) if ordered else None


class LambdaSupervisor:
    """The server's handle on one lambda: queue, worker process, counters, logs.

    on_actions(name, arrival_time, actions) is called from the worker's thread.
    """

    def __init__(
        self,
        name: str,
        source: str,
        on_actions,
        time_limit: float = 1.0,
        memory_mb: int = 256,
        topology=lambda: (0, None),
    ):
        self.name, self.source, self.on_actions = name, source, on_actions
        self.time_limit, self.memory_mb, self.topology = time_limit, memory_mb, topology
        self.kinds: list[str] = []
        self.queue: queue.Queue = queue.Queue(QUEUE_MAX)
        self.logs: collections.deque = collections.deque(maxlen=2000)
        self.durations: collections.deque = collections.deque(maxlen=5000)
        self.counts = collections.Counter()
        self.loaded_at = time.time()
        self.state = RUNNING
        self.failures = 0  # in a row, since the last batch done
        self._stop = threading.Event()
        self._proc: subprocess.Popen | None = None
        self._sandbox: Sandbox | None = None
        self._conn: Connection | None = None
        self._clock: SharedClock | None = None
        self._topology_version = -1
        self._cpu_start = (0.0, 0.0)  # (monotonic time, CPU seconds) when the worker got ready
        self._busy = 0.0  # seconds the worker spent on batches since then

    def start(self) -> None:
        """Start the worker; raises LambdaLoadError when the file does not load."""
        self._clock = SharedClock(os.memfd_create(f"lambda-{self.name}", os.MFD_CLOEXEC))
        try:
            self._spawn()
        except BaseException:
            self._clock.close()
            raise
        threading.Thread(target=self._loop, name=f"lambda-{self.name}", daemon=True).start()

    def _spawn(self) -> None:
        lab = os.environ.get("TAPLAB_LAB", "nolab")
        try:
            serial = next(_workers)
            self._sandbox = Sandbox(f"{lab}-{os.getpid()}-{self.name}-{serial}", serial)
        except (SandboxError, OSError) as exc:
            raise LambdaLoadError(f"{self.name} cannot start: {exc}") from None
        ours, theirs = socket.socketpair()
        self._clock.write(0.0, time.monotonic())
        with theirs:
            argv = [
                sys.executable,
                "-m",
                "taplab.controllers.lambda_worker",
                str(theirs.fileno()),
                str(self._clock.fd),
                str(os.getpid()),
            ]
            try:
                self._proc = subprocess.Popen(
                    self._sandbox.command(argv),
                    pass_fds=(theirs.fileno(), self._clock.fd),
                    stdin=subprocess.DEVNULL,
                    env=Sandbox.env(),
                    cwd="/",
                    start_new_session=True,
                )
            except OSError as exc:
                self._sandbox.kill()
                ours.close()
                raise LambdaLoadError(f"{self.name} cannot start: {exc}.") from None
        self._sandbox.adopt(self._proc.pid)
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
        self._cpu_start, self._busy = (time.monotonic(), self._sandbox.cpu_seconds()), 0.0

    def submit(self, item: tuple) -> bool:
        """Queue an event item; False (and counted) when the queue is full or given up."""
        if self.state == GAVE_UP:
            self.counts["dropped"] += 1
            return False
        try:
            self.queue.put_nowait(item)
            return True
        except queue.Full:
            self.counts["dropped"] += 1
            return False

    def stop(self) -> None:
        self._stop.set()
        self.state = STOPPED
        self._kill()
        self._clock.close()

    def _kill(self) -> None:
        """The worker and everything it started."""
        if self._sandbox is not None:
            self._sandbox.kill()
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait(2)
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _over_cpu(self) -> bool:
        """Whether the worker and its descendants used more CPU than its batches took
        plus CPU_SHARE of a core (and CPU_BURST): code running outside its calls."""
        started, base = self._cpu_start
        used = self._sandbox.cpu_seconds() - base
        return used > self._busy + CPU_SHARE * (time.monotonic() - started) + CPU_BURST

    def _loop(self) -> None:
        while not self._stop.is_set():
            if self._over_cpu():
                self.logs.append(f"{self.name} used CPU outside its calls: worker killed")
                self._restart("kills")
                continue
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
        sent = time.monotonic()
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
        self._busy += time.monotonic() - sent
        self.failures, self.state = 0, RUNNING
        for key in ("invocations", "errors", "timeouts", "memory"):
            self.counts[key] += reply[key]
        self.durations.extend(reply["durations"])
        self.logs.extend(reply["logs"])
        for arrival, actions in reply["actions"]:
            self.on_actions(self.name, arrival, actions)
        if reply["memory"]:
            self._restart(None)  # counted as "memory" by the worker

    def _restart(self, reason: str | None) -> None:
        """A new worker after an exponential backoff, or give up after GIVE_UP failures."""
        if reason:
            self.counts[reason] += 1
        self.failures += 1
        self._kill()
        if self.failures >= GIVE_UP:
            self._give_up(f"its worker failed {self.failures} times in a row")
            return
        self.state = RESTARTING
        if self._stop.wait(min(BACKOFF * 2 ** (self.failures - 1), BACKOFF_MAX)):
            return
        try:
            self._spawn()
        except LambdaLoadError as exc:
            self._give_up(f"it no longer loads ({exc})")
            return
        self.counts["restarts"] += 1

    def _give_up(self, why: str) -> None:
        self.logs.append(f"{self.name} given up: {why}; load it again to retry")
        self.state = GAVE_UP
        self._stop.set()
        while not self.queue.empty():
            self.queue.get_nowait()
            self.counts["dropped"] += 1

    def describe(self) -> dict:
        d = list(self.durations)
        alive = self._proc is not None and self._proc.poll() is None
        return {
            "name": self.name,
            "kinds": self.kinds,
            "loaded_at": self.loaded_at,
            "queue": self.queue.qsize(),
            "alive": alive,
            "state": self.state,
            "failures": self.failures,
            "invocations": self.counts["invocations"],
            "errors": self.counts["errors"],
            "timeouts": self.counts["timeouts"],
            "memory": self.counts["memory"],
            "crashes": self.counts["crashes"],
            "kills": self.counts["kills"],
            "restarts": self.counts["restarts"],
            "dropped": self.counts["dropped"],
            "p50_ms": percentile_ms(d, 0.5),
            "p99_ms": percentile_ms(d, 0.99),
        }
