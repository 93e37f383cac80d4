"""Sequences of telemetry datagrams against one receiver (hypothesis stateful testing):
senders that jump ahead, restart in new epochs, lose, reorder, retransmit and replay.

The model keeps every (epoch, seq) seen as a plain set, independent of the
receiver's bit window, and says what each datagram must give."""

import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from taplab.controllers.telemetry import (
    V2,
    WINDOW,
    FlowRecord,
    Rejected,
    TransactionReceiver,
    build,
    flow_event,
)

KEY = bytes(range(32))
SWITCHES = (1, 2, 3)
EVENT = {ack: flow_event(FlowRecord("10.0.0.1", "10.0.0.2", 6, 1, 2, 3), ack) for ack in (0, 1)}


class Sender:
    """The model of one switch as the receiver should see it."""

    def __init__(self):
        self.epoch, self.seq = 1, 0
        self.newest: tuple[int, int] | None = None  # (epoch, seq) of the newest accepted
        self.seen: set[tuple[int, int]] = set()

    def expect(self, epoch: int, seq: int, ack: bool) -> str:
        """'new', 'duplicate' or 'replayed', and record the outcome."""
        if self.newest is None or epoch > self.newest[0]:
            self.newest, self.seen = (epoch, seq), {(epoch, seq)}
            return "new"
        top_epoch, top = self.newest
        if epoch < top_epoch:
            return "replayed"
        if seq == top:
            return "duplicate" if ack else "replayed"
        if (epoch, seq) in self.seen or top - seq >= WINDOW:
            return "replayed"
        self.seen.add((epoch, seq))
        if seq > top:
            self.newest = (epoch, seq)
        return "new"


class TelemetrySequences(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.rx = TransactionReceiver(KEY)
        self.senders = {s: Sender() for s in SWITCHES}
        self.sent: list[tuple[int, int, int, bool]] = []  # every datagram made
        self.held: list[tuple[int, int, int, bool]] = []  # lost for now, maybe late
        self.delivered = 0

    def _deliver(self, switch: int, epoch: int, seq: int, ack: bool) -> None:
        expected = self.senders[switch].expect(epoch, seq, ack)
        data = build(V2, switch, seq, [EVENT[ack]], KEY, epoch)
        try:
            tx = self.rx.accept(data)
        except Rejected as rej:
            assert (rej.reason, expected) == ("replayed", "replayed"), (switch, epoch, seq, ack)
            return
        assert expected == ("duplicate" if tx.duplicate else "new"), (switch, epoch, seq, ack)
        if not tx.duplicate:
            self.delivered += 1
        assert tx.wants_ack == ack

    def _next(self, switch: int, jump: int, ack: bool) -> tuple[int, int, int, bool]:
        sender = self.senders[switch]
        sender.seq = min(sender.seq + jump, 2**32 - 1)
        datagram = (switch, sender.epoch, sender.seq, ack)
        self.sent.append(datagram)
        return datagram

    @rule(
        switch=st.sampled_from(SWITCHES),
        ack=st.booleans(),
        jump=st.one_of(st.just(1), st.integers(1, 3 * WINDOW), st.just(2**32)),
    )
    def send(self, switch, ack, jump):
        self._deliver(*self._next(switch, jump, ack))

    @rule(switch=st.sampled_from(SWITCHES), ack=st.booleans())
    def lose(self, switch, ack):
        self.held.append(self._next(switch, 1, ack))

    @precondition(lambda self: self.held)
    @rule(data=st.data())
    def arrive_late(self, data):
        self._deliver(*self.held.pop(data.draw(st.integers(0, len(self.held) - 1))))

    @precondition(lambda self: self.sent)
    @rule(data=st.data(), ack=st.booleans())
    def replay(self, data, ack):
        switch, epoch, seq, _ = data.draw(st.sampled_from(self.sent))
        self._deliver(switch, epoch, seq, ack)

    @rule(switch=st.sampled_from(SWITCHES))
    def restart(self, switch):
        sender = self.senders[switch]
        sender.epoch, sender.seq = sender.epoch + 1, 0

    @invariant()
    def counted_once_and_bounded(self):
        assert self.rx.counts["transactions"] == self.delivered
        for _epoch, _top, bits in self.rx.window._state.values():
            assert bits.bit_length() <= WINDOW


TelemetrySequences.TestCase.settings = settings(
    max_examples=200, stateful_step_count=60, deadline=None
)
test_telemetry_sequences = TelemetrySequences.TestCase
