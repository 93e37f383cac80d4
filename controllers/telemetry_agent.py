"""The switch-side telemetry agent: reads flow counters from a source and sends them.

Every period it takes the source's records, queues them (on the ACK queue or
the no-ACK queue) and flushes: the no-ACK queue is sent at once, the ACK queue
stop-and-wait. The source is any callable returning FlowRecords: the XDP flow
table of the taps, or ``SyntheticFlows`` for tests and benches::

    agent = TelemetryAgent(TelemetrySender.for_lab(lab, switch_id=1), SyntheticFlows(100))
    agent.run(stop_event)            # every 2 s until stop_event is set
"""

import random
import threading
import time
from collections.abc import Callable, Iterable

from taplab.controllers.telemetry import FlowRecord, TelemetrySender, flow_event


class SyntheticFlows:
    """n made-up flows whose counters grow on every read; every mark_every-th record
    read has syn = MARK (benches measure dispatch latency on those)."""

    MARK = 1 << 31

    def __init__(self, n: int = 100, seed: int = 1, mark_every: int = 0):
        rng = random.Random(seed)
        self.flows = [
            FlowRecord(
                f"10.{rng.randrange(256)}.{rng.randrange(256)}.{i % 250 + 1}",
                "10.244.1.2",
                rng.choice((6, 17)),
                rng.randrange(1024, 65535),
                rng.choice((53, 80, 443)),
                0,
                0,
            )
            for i in range(n)
        ]
        self.mark_every, self.reads, self.round = mark_every, 0, 0

    def __call__(self) -> list[FlowRecord]:
        self.round += 1
        n = self.round
        out = [
            FlowRecord(f.src, f.dst, f.proto, f.sport, f.dport, n * 10, n * 6000, n, 0, 0)
            for f in self.flows
        ]
        if self.mark_every:
            first = -self.reads % self.mark_every
            for i in range(first, len(out), self.mark_every):
                out[i] = out[i]._replace(syn=self.MARK)
        self.reads += len(out)
        return out


class TelemetryAgent:
    """Two queues (ACK and no-ACK) of flow-record events, flushed every period."""

    def __init__(
        self,
        sender: TelemetrySender,
        source: Callable[[], Iterable[FlowRecord]],
        period: float = 2.0,
        ack: bool = False,
    ):
        self.sender, self.source, self.period, self.ack = sender, source, period, ack
        self.noack_queue: list[bytes] = []
        self.ack_queue: list[bytes] = []
        self.events_sent = 0

    def queue(self, record: FlowRecord, ack: bool | None = None) -> None:
        ack = self.ack if ack is None else ack
        (self.ack_queue if ack else self.noack_queue).append(flow_event(record, ack))

    def collect(self) -> None:
        queue = self.ack_queue if self.ack else self.noack_queue
        queue.extend(flow_event(r, self.ack) for r in self.source())

    def flush(self) -> int:
        """Send both queues; return the number of transactions sent."""
        noack, self.noack_queue = self.noack_queue, []
        acked, self.ack_queue = self.ack_queue, []
        sent = self.sender.send(noack) if noack else 0
        if acked:
            sent += self.sender.send_acked(acked)
        self.events_sent += len(noack) + len(acked)
        return sent

    def run(self, stop: threading.Event, until: float | None = None) -> None:
        """Collect and flush every period until stop is set (or time.monotonic() >= until)."""
        while not stop.is_set() and (until is None or time.monotonic() < until):
            started = time.monotonic()
            self.collect()
            self.flush()
            stop.wait(max(0.0, self.period - (time.monotonic() - started)))
