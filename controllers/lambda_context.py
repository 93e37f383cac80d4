"""What a lambda gets besides its event: ``ctx`` with a store, a logger, the clock, the topology.

    @on("packet_in")
    def count_syns(event, ctx):
        n = ctx.store.incr(("syn", event.src), ttl=10)   # forgotten 10 s after the last write
        ctx.log.info("%s sent %d SYNs", event.src, n)
        ctx.now()                                         # the clock (time.time)
        ctx.topology                                      # networkx graph: switches, hosts

The store lives in the lambda's worker process: it is lost when the worker is
restarted (after a time-limit kill, a memory error or a reload).
"""

import logging
import time
from typing import Any


class Store:
    """A dict whose entries may expire ``ttl`` seconds after they were written."""

    def __init__(self, clock=time.monotonic):
        self._data: dict[Any, tuple[Any, float | None]] = {}
        self._clock = clock

    def set(self, key, value, ttl: float | None = None) -> None:
        self._data[key] = (value, None if ttl is None else self._clock() + ttl)

    def get(self, key, default=None):
        item = self._data.get(key)
        if item is None:
            return default
        value, expires = item
        if expires is not None and self._clock() >= expires:
            del self._data[key]
            return default
        return value

    def incr(self, key, amount: float = 1, ttl: float | None = None):
        """Add amount to a number (0 when missing or expired); return the new value."""
        value = self.get(key, 0) + amount
        self.set(key, value, ttl)
        return value

    def delete(self, key) -> None:
        self._data.pop(key, None)

    def __contains__(self, key) -> bool:
        return self.get(key, _MISSING) is not _MISSING

    def __len__(self) -> int:
        self.expire()
        return len(self._data)

    def expire(self) -> None:
        """Drop every expired entry now."""
        now = self._clock()
        self._data = {k: v for k, v in self._data.items() if v[1] is None or v[1] > now}


_MISSING = object()


class LogBuffer(logging.Handler):
    """Collects a lambda's log lines until the worker sends them to the server."""

    def __init__(self):
        super().__init__()
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def take(self) -> list[str]:
        lines, self.lines = self.lines, []
        return lines


class Context:
    """The ``ctx`` argument of every lambda."""

    def __init__(self, name: str, log_buffer: LogBuffer):
        self.name = name
        self.store = Store()
        self.log = logging.getLogger(f"lambda.{name}")
        self.log.propagate = False
        self.log.setLevel(logging.INFO)
        self.log.addHandler(log_buffer)
        self._graph_data: dict | None = None
        self._graph = None

    @staticmethod
    def now() -> float:
        return time.time()

    def set_topology(self, data: dict) -> None:
        self._graph_data, self._graph = data, None

    @property
    def topology(self):
        """The network as a networkx graph (switch and host nodes, links with ports)."""
        if self._graph is None:
            import networkx

            self._graph = (
                networkx.node_link_graph(self._graph_data, edges="links")
                if self._graph_data
                else networkx.Graph()
            )
        return self._graph
