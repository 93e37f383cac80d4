"""The lambda server's core: loaded lambdas, event dispatch, telemetry, actions, metrics.

It knows nothing of OpenFlow: the os-ken app (``lambda_app``) posts events and
gives an ``actuator(action) -> dict`` that turns an action into messages. So
does the bench, and tests drive it directly::

    server = LambdaServer(settings, actuator)
    server.start()                       # telemetry receiver and timer threads
    server.load("synflood", source)      # LambdaLoadError if it does not load
    server.post("tap", src="10.0.0.1", data={...})
    server.stats()

Every action a lambda returns is recorded (``actions()`` and
``<workdir>/actions.jsonl``) with its dispatch latency: from the event's
arrival at the server to the action being applied.
"""

import collections
import dataclasses
import json
import socket
import threading
import time
from pathlib import Path

from taplab.controllers.lambda_supervisor import LambdaSupervisor, percentile_ms
from taplab.controllers.lambda_topology import Topology
from taplab.controllers.lambda_worker import LambdaLoadError
from taplab.controllers.settings import ControllerSettings
from taplab.controllers.telemetry import Rejected, TransactionReceiver
from taplab.lambdas import EVENT_KINDS, Alert

RCVBUF = 8 * 2**20
SO_RCVBUFFORCE = 33  # Linux: a receive buffer above rmem_max (root); not in the socket module


class LambdaServer:
    """Dispatches events to lambda workers and applies what they return."""

    def __init__(self, settings: ControllerSettings, actuator):
        self.settings, self.actuator = settings, actuator
        self.workers: dict[str, LambdaSupervisor] = {}
        self.topology = Topology()
        self.counts: collections.Counter = collections.Counter()
        self.latencies: collections.deque = collections.deque(maxlen=100_000)
        self._actions: collections.deque = collections.deque(maxlen=5000)
        self._lock = threading.Lock()
        key = None
        if settings.telemetry_key_file:
            key = bytes.fromhex(Path(settings.telemetry_key_file).read_text().strip())
        self.receiver = TransactionReceiver(key, accept_v1=settings.accept_v1)
        self._actions_file = Path(settings.workdir) / "actions.jsonl"
        self._saved = Path(settings.workdir) / "lambdas"  # reloaded by a restarted controller
        self.sock: socket.socket | None = None

    # -- lambdas -------------------------------------------------------------
    def load(self, name: str, source: str) -> dict:
        """Load (or replace) a lambda; raises LambdaLoadError when it does not load."""
        worker = LambdaSupervisor(
            name,
            source,
            self._on_actions,
            self.settings.time_limit,
            self.settings.memory_mb,
            self.topology.snapshot,
        )
        worker.start()
        with self._lock:
            old = self.workers.get(name)
            self.workers[name] = worker
        if old:
            old.stop()
        self._saved.mkdir(mode=0o700, exist_ok=True)
        (self._saved / f"{name}.py").write_text(source)
        return worker.describe()

    def unload(self, name: str) -> None:
        with self._lock:
            worker = self.workers.pop(name)
        worker.stop()
        (self._saved / f"{name}.py").unlink(missing_ok=True)

    def reload(self) -> list[str]:
        """Load the lambdas a previous controller of this lab had; return what failed."""
        failed = []
        for path in sorted(self._saved.glob("*.py")):
            try:
                self.load(path.stem, path.read_text())
            except LambdaLoadError as exc:
                failed.append(str(exc))
        return failed

    def close(self) -> None:
        """Stop every lambda worker and what it started."""
        for name in list(self.workers):
            self.unload(name)

    def wants(self, kind: str) -> bool:
        return any(kind in w.kinds for w in list(self.workers.values()))

    # -- events --------------------------------------------------------------
    def post(
        self,
        kind: str,
        dpid: int | None = None,
        src: str | None = None,
        dst: str | None = None,
        data: dict | None = None,
        arrival: float | None = None,
    ) -> int:
        """Queue an event for every lambda registered for its kind; return how many."""
        if kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind '{kind}' (kinds: {', '.join(EVENT_KINDS)})")
        return self._deliver(kind, (kind, arrival or time.time(), dpid, src, dst, data or {}))

    def _deliver(self, kind: str, item: tuple) -> int:
        self.counts[f"received.{kind}"] += 1
        delivered = 0
        for worker in list(self.workers.values()):
            if kind in worker.kinds:
                if worker.submit(item):
                    delivered += 1
                else:
                    self.counts["dropped"] += 1
        self.counts["delivered"] += delivered
        return delivered

    def _on_actions(self, name: str, arrival: float, actions: list) -> None:
        for action in actions:
            record = {"time": time.time(), "lambda": name, "action": type(action).__name__}
            try:
                record.update(dataclasses.asdict(action))
                record["result"] = self.actuator(action)
            except Exception as exc:  # noqa: BLE001 - a bad action is reported, not fatal
                record["error"] = f"{type(exc).__name__}: {exc}"
                self.counts["action_errors"] += 1
            latency = time.time() - arrival
            record["latency_ms"] = round(latency * 1000, 3)
            self.latencies.append(latency)
            self.counts["actions"] += 1
            self._actions.append(record)
            with open(self._actions_file, "a") as f:
                f.write(json.dumps(record, default=str) + "\n")
            if isinstance(action, Alert) and name in self.workers:
                self.workers[name].logs.append(
                    f"ALERT {action.name} src={action.src} "
                    f"dst={action.dst} {action.detail}".rstrip()
                )

    def apply(self, action, origin: str = "api") -> dict:
        """Apply and record an action that no lambda returned (HTTP API)."""
        self._on_actions(origin, time.time(), [action])
        return self._actions[-1]

    def actions(self) -> list[dict]:
        return list(self._actions)

    # -- threads -------------------------------------------------------------
    def start(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF)
        self.sock.bind(("127.0.0.1", self.settings.telemetry_port))
        threading.Thread(target=self._receive, name="telemetry", daemon=True).start()
        threading.Thread(target=self._tick, name="timer", daemon=True).start()

    def _receive(self) -> None:
        sock, accept = self.sock, self.receiver.accept
        while True:
            data, addr = sock.recvfrom(2048)
            arrival = time.time()
            try:
                tx = accept(data, addr)
            except Rejected:
                continue
            if tx.wants_ack:
                sock.sendto(self.receiver.ack_for(tx), addr)
            if not tx.duplicate:
                self._deliver(
                    "telemetry",
                    ("telemetry_raw", arrival, tx.switch_id, None, None, (tx.data, tx.end)),
                )

    def _tick(self) -> None:
        interval = self.settings.timer_interval
        while True:
            time.sleep(interval)
            if self.wants("timer"):
                self.post("timer", data={"interval": interval})

    # -- metrics -------------------------------------------------------------
    def stats(self) -> dict:
        received = {
            k.split(".", 1)[1]: v for k, v in self.counts.items() if k.startswith("received.")
        }
        lat = list(self.latencies)
        return {
            "events": {
                "received": received,
                "delivered": self.counts["delivered"],
                "dropped": self.counts["dropped"],
            },
            "telemetry": dict(self.receiver.counts),
            "actions": self.counts["actions"],
            "action_errors": self.counts["action_errors"],
            "dispatch_ms": {
                "p50": percentile_ms(lat, 0.5),
                "p99": percentile_ms(lat, 0.99),
                "samples": len(lat),
            },
            "lambdas": [w.describe() for w in list(self.workers.values())],
        }
