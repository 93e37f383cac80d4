"""The telemetry protocol: switch agents send events to the lambda server over UDP.

Version 1 is the published layout, byte for byte (network byte order)::

    transaction header (10 bytes)   version u8 | switch id u32 | seq u32 | count u8
    event header (9 bytes), x count length u32 | event id u32 | ack flag u8
    payload (length bytes)          follows each event header

A transaction is at most 1435 bytes. Version 2 (the default) is the same
layout with version = 2 and a 40-byte trailer: the sender's epoch u64 (its
start time in ns, so a restarted agent starts a fresh sequence space) and an
HMAC-SHA256 with the lab's key over everything before the HMAC. The receiver
keeps, per switch id (for at most 4096 switch ids, the least recently heard
forgotten first), the newest epoch and a window of the last 1024 sequence
numbers: old epochs, repeated and too-old sequence numbers are replays.

An ACK is a transaction header with count 0 echoing switch id and seq (plus
the v2 trailer). A transaction is acknowledged when one of its events has the
ack flag. Stop-and-wait retransmits only the newest transaction: when that one
arrives again it is acknowledged again and its events are not delivered twice;
any other repeat (older, or from an old epoch) is a replay, never acknowledged.

API::

    sender = TelemetrySender(("127.0.0.1", port), switch_id=1, key=key)
    sender.send([flow_event(FlowRecord("10.0.0.1", "10.0.0.2", 6, 1234, 80, 10, 600))])
    sender.send_acked([...])                     # stop-and-wait, retransmits on timeout
    TelemetrySender.for_lab(LabHandle.find(), switch_id=1)   # port and key from the lab

    receiver = TransactionReceiver(key)          # the lambda server's side
    tx = receiver.accept(datagram, addr)         # raises Rejected(reason), counted
    records = [decode_flow_record(e.payload) for e in tx.events if e.event_id == FLOW_RECORD]

A flow record (event id ``FLOW_RECORD``) is src, dst (IPv4), proto u8, sport
u16, dport u16, packets u64, bytes u64, syn u32, rst u32, empty_udp u32.
Loss is injected in user space (``loss=``): each datagram the sender sends or
receives is dropped with that probability.
"""

import hashlib
import hmac
import random
import socket
import struct
import time
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

V1, V2 = 1, 2
MAX_TRANSACTION = 1435
TX_HEADER = struct.Struct("!BIIB")
EVENT_HEADER = struct.Struct("!IIB")
TRAILER = struct.Struct("!Q")
MAC_LEN = 32
TRAILER_LEN = TRAILER.size + MAC_LEN
MAX_EVENTS = 255
MIN_RTO = 0.001
WINDOW = 1024
WINDOW_MASK = (1 << WINDOW) - 1
MAX_SENDERS = 4096
NEW, LATEST, REPLAY = "new", "latest", "replay"
FLOW_RECORD = 1
_FLOW = struct.Struct("!4s4sBHHQQIII")
_FLOW_EVENT = struct.Struct("!IIB4s4sBHHQQIII")
REJECT_REASONS = ("truncated", "malformed", "oversize", "version", "forged", "replayed")


class Rejected(Exception):
    """A transaction the receiver dropped; ``reason`` is one of REJECT_REASONS."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class TelemetryEvent(NamedTuple):
    """One event of a transaction: its id, payload bytes and ack flag."""

    event_id: int
    payload: bytes
    ack: bool = False

    def encode(self) -> bytes:
        return EVENT_HEADER.pack(len(self.payload), self.event_id, int(self.ack)) + self.payload


class FlowRecord(NamedTuple):
    """Counters of one 5-tuple, as the XDP flow table keeps them."""

    src: str
    dst: str
    proto: int
    sport: int
    dport: int
    packets: int = 0
    bytes: int = 0
    syn: int = 0
    rst: int = 0
    empty_udp: int = 0


def flow_counters(proto, sport, dport, packets, nbytes, syn, rst, empty_udp) -> dict:
    """A flow record's fields after its two addresses, as a dict (events, flow tables)."""
    return {
        "proto": proto,
        "sport": sport,
        "dport": dport,
        "packets": packets,
        "bytes": nbytes,
        "syn": syn,
        "rst": rst,
        "empty_udp": empty_udp,
    }


def decode_flow_record(payload: bytes) -> FlowRecord:
    """The record in a FLOW_RECORD payload; raises ValueError on a wrong size."""
    if len(payload) != _FLOW.size:
        raise ValueError(f"a flow record has {_FLOW.size} bytes, not {len(payload)}")
    src, dst, *rest = _FLOW.unpack(payload)
    return FlowRecord(socket.inet_ntoa(src), socket.inet_ntoa(dst), *rest)


def flow_event(r: FlowRecord, ack: bool = False) -> bytes:
    """A whole encoded FLOW_RECORD event (header and payload), ready for packing."""
    return _FLOW_EVENT.pack(
        _FLOW.size,
        FLOW_RECORD,
        int(ack),
        socket.inet_aton(r.src),
        socket.inet_aton(r.dst),
        r.proto,
        r.sport,
        r.dport,
        r.packets,
        r.bytes,
        r.syn,
        r.rst,
        r.empty_udp,
    )


def _sign(key: bytes, body: bytes, epoch: int) -> bytes:
    body += TRAILER.pack(epoch)
    return body + hmac.new(key, body, hashlib.sha256).digest()


def build(
    version: int,
    switch_id: int,
    seq: int,
    events: Sequence[bytes],
    key: bytes | None = None,
    epoch: int = 0,
) -> bytes:
    """One transaction from encoded events (``TelemetryEvent.encode()`` or ``flow_event``)."""
    body = TX_HEADER.pack(version, switch_id, seq, len(events)) + b"".join(events)
    if version == V2:
        if key is None:
            raise ValueError("version 2 needs a key")
        body = _sign(key, body, epoch)
    if len(body) > MAX_TRANSACTION or len(events) > MAX_EVENTS:
        raise ValueError(f"transaction of {len(body)} bytes, {len(events)} events is too big")
    return body


def pack(events: Sequence[bytes], version: int = V2) -> list[Sequence[bytes]]:
    """Split encoded events into groups that each fit in one transaction."""
    room = MAX_TRANSACTION - TX_HEADER.size - (TRAILER_LEN if version == V2 else 0)
    sizes = set(map(len, events))
    if len(sizes) == 1 and (size := sizes.pop()) <= room:  # fixed-size events: slice
        step = min(room // size, MAX_EVENTS)
        return [events[i : i + step] for i in range(0, len(events), step)]
    groups: list[Sequence[bytes]] = []
    current: list[bytes] = []
    used = 0
    for ev in events:
        if len(ev) > room:
            raise ValueError(f"an event of {len(ev)} bytes does not fit in a transaction")
        if used + len(ev) > room or len(current) == MAX_EVENTS:
            groups.append(current)
            current, used = [], 0
        current.append(ev)
        used += len(ev)
    if current:
        groups.append(current)
    return groups


@dataclass
class Transaction:
    """A checked transaction: who sent it, its raw bytes (events end at ``end``)."""

    version: int
    switch_id: int
    seq: int
    epoch: int
    count: int
    data: bytes
    end: int
    wants_ack: bool
    duplicate: bool = False

    @property
    def events(self) -> list[TelemetryEvent]:
        return list(iter_events(self.data, self.end))


class ReplayWindow:
    """Newest epoch and the last WINDOW sequence numbers seen, per sender.

    At most MAX_SENDERS senders are kept; the one heard from least recently is
    forgotten first (counted by the receiver as ``evicted``).
    """

    def __init__(self, max_senders: int = MAX_SENDERS):
        self._state: OrderedDict = OrderedDict()
        self.max_senders = max_senders
        self.evicted = 0

    def check(self, sender, epoch: int, seq: int) -> str:
        """NEW (recorded), LATEST (the newest one seen again: a retransmission) or REPLAY."""
        known = self._state.get(sender)
        if known is None or epoch > known[0]:
            self._remember(sender, (epoch, seq, 1))
            return NEW
        old_epoch, top, bits = known
        if epoch < old_epoch:
            return REPLAY
        if seq > top:
            shift = seq - top
            bits = ((bits << shift) | 1) & WINDOW_MASK if shift < WINDOW else 1
            self._remember(sender, (epoch, seq, bits))
            return NEW
        age = top - seq
        if age == 0:
            return LATEST
        if age >= WINDOW or (bits >> age) & 1:
            return REPLAY
        self._remember(sender, (epoch, top, bits | (1 << age)))
        return NEW

    def _remember(self, sender, state: tuple) -> None:
        self._state[sender] = state
        self._state.move_to_end(sender)
        if len(self._state) > self.max_senders:
            self._state.popitem(last=False)
            self.evicted += 1

    def __len__(self) -> int:
        return len(self._state)


class TransactionReceiver:
    """Checks datagrams: layout, size, version, HMAC, replay. Counts every outcome.

    key None accepts version 1 only; with a key, version 2 only unless accept_v1.
    A retransmitted transaction (already seen) is returned with duplicate=True so
    it can be acknowledged again; its events must not be delivered twice.
    """

    def __init__(self, key: bytes | None = None, accept_v1: bool = False):
        self.key = key
        self.versions = {V2} if key else {V1}
        if key and accept_v1:
            self.versions.add(V1)
        self.window = ReplayWindow()
        self.counts: Counter = Counter()

    def accept(self, data: bytes, addr=None) -> Transaction:
        try:
            tx = self._parse(data, addr)
        except Rejected as rej:
            self.counts[rej.reason] += 1
            raise
        if not tx.duplicate:
            self.counts["transactions"] += 1
            self.counts["events"] += tx.count
        return tx

    def _parse(self, data: bytes, addr) -> Transaction:
        if len(data) < TX_HEADER.size:
            raise Rejected("truncated")
        if len(data) > MAX_TRANSACTION:
            raise Rejected("oversize")
        version, switch_id, seq, count = TX_HEADER.unpack_from(data)
        if version not in self.versions:
            raise Rejected("version")
        end, epoch = len(data), 0
        if version == V2:
            end -= TRAILER_LEN
            if end < TX_HEADER.size:
                raise Rejected("truncated")
            mac = hmac.new(self.key, data[: end + TRAILER.size], hashlib.sha256).digest()
            if not hmac.compare_digest(mac, data[end + TRAILER.size :]):
                raise Rejected("forged")
            (epoch,) = TRAILER.unpack_from(data, end)
        wants_ack = _check_events(data, count, end)
        sender = switch_id if version == V2 else (switch_id, addr)
        seen = self.window.check(sender, epoch, seq)
        if self.window.evicted:
            self.counts["evicted"] = self.window.evicted
        if seen == REPLAY or (seen == LATEST and not wants_ack):
            raise Rejected("replayed")
        if seen == LATEST:
            self.counts["duplicates"] += 1
        return Transaction(
            version, switch_id, seq, epoch, count, data, end, wants_ack, duplicate=seen == LATEST
        )

    def ack_for(self, tx: Transaction) -> bytes:
        """The ACK datagram for a transaction."""
        return build(tx.version, tx.switch_id, tx.seq, [], self.key, tx.epoch)


def _check_events(data: bytes, count: int, end: int) -> bool:
    """Check that count events fill data up to end exactly; return whether one wants an ACK."""
    offset, acks, unpack = TX_HEADER.size, 0, EVENT_HEADER.unpack_from
    for _ in range(count):
        if offset + EVENT_HEADER.size > end:
            raise Rejected("truncated")
        length, _event_id, ack = unpack(data, offset)
        offset += EVENT_HEADER.size + length
        acks |= ack
    if offset > end:
        raise Rejected("truncated")
    if offset != end or acks > 1:
        raise Rejected("malformed")
    return acks == 1


def iter_events(data: bytes, end: int):
    """The events of a checked transaction, as TelemetryEvents."""
    offset = TX_HEADER.size
    while offset < end:
        length, event_id, ack = EVENT_HEADER.unpack_from(data, offset)
        offset += EVENT_HEADER.size
        yield TelemetryEvent(event_id, data[offset : offset + length], ack == 1)
        offset += length


def flow_events(data: bytes, end: int) -> list[tuple] | None:
    """Fast path: when a checked transaction holds only flow records, their fields
    (length, event id, ack, src, dst as 4 bytes, proto, ...) decoded in one go; else None."""
    body = memoryview(data)[TX_HEADER.size : end]
    if len(body) % _FLOW_EVENT.size:
        return None
    rows = list(_FLOW_EVENT.iter_unpack(body))
    if any(r[0] != _FLOW.size or r[1] != FLOW_RECORD for r in rows):
        return None
    return rows


class TelemetrySender:
    """Sends events to a lambda server: without ACK, or stop-and-wait with ACK."""

    def __init__(
        self,
        addr: tuple[str, int],
        switch_id: int,
        key: bytes | None = None,
        version: int | None = None,
        loss: float = 0.0,
        ack_timeout: float = 0.05,
        max_tries: int = 50,
        seed: int | None = None,
    ):
        self.addr, self.switch_id, self.key = addr, switch_id, key
        self.version = version or (V2 if key else V1)
        self.loss, self.ack_timeout, self.max_tries = loss, ack_timeout, max_tries
        self.epoch = time.time_ns()
        self.seq = 0
        self.sent = self.dropped = self.retransmits = 0
        self.srtt: float | None = None
        self.rto = ack_timeout
        self._rng = random.Random(seed)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.connect(addr)

    @classmethod
    def for_lab(cls, lab, switch_id: int, **kwargs) -> "TelemetrySender":
        """A sender to the lambda server of a running lab (port and key from its meta)."""
        meta = lab.controller
        if not lab.has_lambda_server:
            raise LookupError(f"lab {lab.id} runs no lambda server")
        key = bytes.fromhex(Path(meta["telemetry_key_file"]).read_text().strip())
        return cls(("127.0.0.1", meta["telemetry_port"]), switch_id, key=key, **kwargs)

    def close(self) -> None:
        self.sock.close()

    def _transaction(self, events: Sequence[bytes]) -> bytes:
        self.seq = (self.seq + 1) & 0xFFFFFFFF
        if self.seq == 0:  # a wrapped sequence space is a fresh epoch
            self.epoch, self.seq = max(time.time_ns(), self.epoch + 1), 1
        return build(self.version, self.switch_id, self.seq, events, self.key, self.epoch)

    def _send(self, datagram: bytes) -> None:
        if self.loss and self._rng.random() < self.loss:
            self.dropped += 1
            return
        try:
            self.sock.send(datagram)
            self.sent += 1
        except (ConnectionRefusedError, BlockingIOError):
            self.dropped += 1

    def send(self, events: Sequence[bytes]) -> int:
        """Send encoded events without ACK; return the number of transactions."""
        groups = pack(events, self.version)
        for group in groups:
            self._send(self._transaction(group))
        return len(groups)

    def send_acked(self, events: Sequence[bytes]) -> int:
        """Send events (encoded with the ack flag) stop-and-wait; return transactions.

        Raises TimeoutError when a transaction stays unacknowledged after max_tries.
        """
        groups = pack(events, self.version)
        for group in groups:
            self._send_until_acked(self._transaction(group), self.seq)
        return len(groups)

    def _send_until_acked(self, datagram: bytes, seq: int) -> None:
        """Stop-and-wait with an adaptive timeout: 3 x smoothed RTT (at least MIN_RTO),
        doubled on each retry up to ack_timeout; RTT measured on first tries only (Karn)."""
        for attempt in range(self.max_tries):
            if attempt:
                self.retransmits += 1
            self._send(datagram)
            sent = time.monotonic()
            deadline = sent + min(self.rto * 2**attempt, self.ack_timeout)
            while (left := deadline - time.monotonic()) > 0:
                self.sock.settimeout(left)
                try:
                    reply = self.sock.recv(MAX_TRANSACTION)
                except (TimeoutError, ConnectionRefusedError):
                    break
                if self.loss and self._rng.random() < self.loss:
                    continue  # the ACK was lost on the way back
                if self._is_ack(reply, seq):
                    if not attempt:
                        rtt = time.monotonic() - sent
                        self.srtt = rtt if self.srtt is None else 0.875 * self.srtt + 0.125 * rtt
                        self.rto = min(max(3 * self.srtt, MIN_RTO), self.ack_timeout)
                    return
        raise TimeoutError(f"no ACK for transaction {seq} after {self.max_tries} tries")

    def _is_ack(self, reply: bytes, seq: int) -> bool:
        expected = build(self.version, self.switch_id, seq, [], self.key, self.epoch)
        return hmac.compare_digest(reply, expected)
