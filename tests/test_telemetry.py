"""Telemetry protocol: the published v1 layout, v2 authentication and replay window,
stop-and-wait ACK under injected loss, and fuzzing of a real lambda server's port."""

import socket
import struct
import threading
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taplab.controllers import runtime
from taplab.controllers.api_client import ControllerClient
from taplab.controllers.telemetry import (
    FLOW_RECORD,
    MAX_TRANSACTION,
    REJECT_REASONS,
    V1,
    V2,
    FlowRecord,
    Rejected,
    TelemetryEvent,
    TelemetrySender,
    TransactionReceiver,
    build,
    decode_flow_record,
    flow_event,
    pack,
)
from taplab.controllers.telemetry_agent import SyntheticFlows, TelemetryAgent
from taplab.lab import Lab
from tests.conftest import needs, wait_for

KEY = bytes(range(32))
RECORD = FlowRecord("10.244.1.2", "10.244.2.3", 6, 40000, 80, 12, 3400, 2, 1, 0)


def test_version_1_layout_byte_for_byte():
    event = TelemetryEvent(7, b"abc", ack=True).encode()
    tx = build(V1, 0x01020304, 0x0A0B0C0D, [event])
    assert tx[:10] == bytes([1, 1, 2, 3, 4, 0x0A, 0x0B, 0x0C, 0x0D, 1])
    assert tx[10:19] == struct.pack("!IIB", 3, 7, 1) and tx[19:] == b"abc"
    assert len(tx) == 10 + 9 + 3


def test_flow_record_codec_round_trip():
    payload = flow_event(RECORD)[9:]
    assert len(payload) == 41
    assert decode_flow_record(payload) == RECORD
    assert struct.unpack("!IIB", flow_event(RECORD, ack=True)[:9]) == (41, FLOW_RECORD, 1)
    with pytest.raises(ValueError):
        decode_flow_record(payload[:-1])


def test_pack_keeps_every_transaction_within_1435_bytes():
    events = [flow_event(RECORD)] * 100 + [TelemetryEvent(9, b"x" * 700).encode()] * 3
    groups = pack(events, V2)
    assert sum(len(g) for g in groups) == len(events)
    for g in groups:
        assert len(build(V2, 1, 1, g, KEY)) <= MAX_TRANSACTION
    with pytest.raises(ValueError):
        pack([TelemetryEvent(9, b"x" * 1400).encode()], V2)


def test_v2_accepts_authentic_rejects_forged_replayed_and_v1():
    rx = TransactionReceiver(KEY)
    tx = build(V2, 5, 1, [flow_event(RECORD)], KEY, epoch=10)
    got = rx.accept(tx)
    assert (got.switch_id, got.seq, got.events[0].payload) == (5, 1, flow_event(RECORD)[9:])
    forged = build(V2, 5, 2, [flow_event(RECORD)], b"k" * 32, epoch=10)
    tampered = bytearray(build(V2, 5, 3, [flow_event(RECORD)], KEY, epoch=10))
    tampered[20] ^= 1
    cases = [
        (forged, "forged"),
        (bytes(tampered), "forged"),
        (tx, "replayed"),
        (build(V1, 5, 9, [flow_event(RECORD)]), "version"),
        (build(V2, 5, 1, [flow_event(RECORD)], KEY, epoch=9), "replayed"),
    ]
    for data, reason in cases:
        with pytest.raises(Rejected) as err:
            rx.accept(data)
        assert err.value.reason == reason
    assert rx.counts["forged"] == 2 and rx.counts["replayed"] == 2 and rx.counts["events"] == 1


def test_replay_window_takes_late_packets_once_and_new_epochs():
    rx = TransactionReceiver(KEY)
    for seq in (5, 3, 4):
        rx.accept(build(V2, 1, seq, [], KEY, epoch=1))
    for seq in (3, 5):
        with pytest.raises(Rejected):
            rx.accept(build(V2, 1, seq, [], KEY, epoch=1))
    rx.accept(build(V2, 1, 5000, [], KEY, epoch=1))
    with pytest.raises(Rejected):  # older than the window
        rx.accept(build(V2, 1, 6, [], KEY, epoch=1))
    rx.accept(build(V2, 1, 1, [], KEY, epoch=2))  # a restarted agent
    assert rx.counts["transactions"] == 5 and rx.counts["replayed"] == 3


def test_malformed_layouts_are_rejected_with_a_reason():
    good = build(V1, 1, 1, [TelemetryEvent(1, b"abcd").encode()])
    cases = {
        good[:5]: "truncated",
        good[:-1]: "truncated",
        good + b"x": "malformed",
        good[:9] + b"\x02" + good[10:]: "truncated",
        bytes([1]) + good[1:18] + b"\x07" + good[19:]: "malformed",
        b"\x01" * (MAX_TRANSACTION + 1): "oversize",
    }
    rx = TransactionReceiver()
    for data, reason in cases.items():
        with pytest.raises(Rejected) as err:
            rx.accept(data)
        assert err.value.reason == reason, data
    assert sum(rx.counts[r] for r in REJECT_REASONS) == len(cases)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=1600))
def test_random_bytes_never_crash_the_receiver(data):
    rx = TransactionReceiver(KEY, accept_v1=True)
    try:
        rx.accept(data)
    except Rejected as rej:
        assert rej.reason in REJECT_REASONS


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**32 - 1), st.lists(st.binary(max_size=60), max_size=30), st.data())
def test_mutated_v1_transactions_are_accepted_or_rejected_never_crash(seq, payloads, data):
    events = [TelemetryEvent(1, p).encode() for p in payloads]
    tx = bytearray(build(V1, 1, seq, events))
    index = data.draw(st.integers(0, len(tx) - 1))
    tx[index] = data.draw(st.integers(0, 255))
    rx = TransactionReceiver()
    try:
        got = rx.accept(bytes(tx))
        assert sum(9 + len(e.payload) for e in got.events) == len(tx) - 10
    except Rejected as rej:
        assert rej.reason in REJECT_REASONS


def _ack_server(rx: TransactionReceiver, sock: socket.socket, stop: threading.Event):
    while not stop.is_set():
        try:
            data, addr = sock.recvfrom(2048)
        except TimeoutError:
            continue
        try:
            tx = rx.accept(data)
        except Rejected:
            continue
        if tx.wants_ack:
            sock.sendto(rx.ack_for(tx), addr)


def test_stop_and_wait_delivers_everything_once_under_20_percent_loss():
    rx = TransactionReceiver(KEY)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.1)
    stop = threading.Event()
    thread = threading.Thread(target=_ack_server, args=(rx, sock, stop))
    thread.start()
    try:
        sender = TelemetrySender(sock.getsockname(), 3, key=KEY, loss=0.2, seed=7)
        agent = TelemetryAgent(sender, SyntheticFlows(300), ack=True)
        agent.collect()
        agent.flush()
        agent.collect()
        agent.flush()
    finally:
        stop.set()
        thread.join()
        sock.close()
    assert sender.retransmits > 0 and sender.dropped > 0
    assert rx.counts["events"] == 600  # duplicates were acknowledged, not delivered again


@pytest.fixture(scope="module")
def lambda_server():
    """A real controller process running only the lambda server (no switches)."""
    with Lab("telemetry-test") as lab:
        runtime.start(lab, [runtime.LAMBDA_APP])
        yield lab, ControllerClient.for_lab(lab)


def _telemetry(client) -> dict:
    return client.request("GET", "/stats")["telemetry"]


@needs()
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.one_of(
        st.binary(max_size=1500), st.tuples(st.integers(0, 600), st.integers(0, 255), st.booleans())
    )
)
def test_fuzzing_the_port_of_a_real_server_counts_every_bad_input(lambda_server, case):
    lab, client = lambda_server
    port = lab.meta["controller"]["telemetry_port"]
    if isinstance(case, tuple):  # a valid signed transaction, one byte changed or cut short
        index, value, cut = case
        data = bytearray(build(V2, 99, 1, [flow_event(RECORD)] * 5, KEY, epoch=1))
        index %= len(data)
        if cut:
            data = data[:index]
        else:
            data[index] ^= value or 1
        data = bytes(data)
    else:
        data = case
    before = sum(_telemetry(client).get(r, 0) for r in REJECT_REASONS)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(data, ("127.0.0.1", port))
    wait_for(
        lambda: sum(_telemetry(client).get(r, 0) for r in REJECT_REASONS) == before + 1,
        timeout=5,
        what="the bad datagram to be counted",
    )


@needs()
def test_real_server_accepts_the_lab_key_and_rejects_forged_and_replayed(lambda_server):
    lab, client = lambda_server
    sender = TelemetrySender.for_lab(lab, switch_id=42)
    port = lab.meta["controller"]["telemetry_port"]
    base = _telemetry(client)
    sender.send([flow_event(RECORD)] * 3)
    sender.send_acked([flow_event(RECORD, ack=True)])
    key = sender.key
    replay = build(V2, 42, 1, [flow_event(RECORD)] * 3, key, sender.epoch)
    forged = build(V2, 42, 77, [flow_event(RECORD)], b"x" * 32, sender.epoch)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(replay, ("127.0.0.1", port))
        s.sendto(forged, ("127.0.0.1", port))

    def counted():
        now = _telemetry(client)
        return all(
            now.get(k, 0) - base.get(k, 0) == n
            for k, n in (("events", 4), ("replayed", 1), ("forged", 1))
        )

    wait_for(counted, timeout=5, what="4 events accepted, 1 replay and 1 forgery rejected")
    assert client.request("GET", "/health")["ok"]
    sender.close()


def test_a_sequence_jump_keeps_the_window_bounded():
    rx = TransactionReceiver(KEY)
    rx.accept(build(V2, 1, 1, [], KEY, epoch=1))
    jump = build(V2, 1, 2**32 - 1, [], KEY, epoch=1)
    tracemalloc.start()
    try:
        rx.accept(jump)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20, peak  # the shift built a 2^32-bit integer (512 MiB) before masking
    rx.accept(build(V2, 1, 2**32 - 1 - 1000, [], KEY, epoch=1))
    with pytest.raises(Rejected, match="replayed"):
        rx.accept(build(V2, 1, 1, [], KEY, epoch=1))


def test_a_wrapping_sender_starts_a_fresh_epoch():
    sender = TelemetrySender(("127.0.0.1", 9), 1, key=KEY)
    sender.seq, epoch = 2**32 - 1, sender.epoch
    rx = TransactionReceiver(KEY)
    rx.accept(build(V2, 1, sender.seq, [], KEY, epoch))
    rx.accept(sender._transaction([]))
    assert sender.seq == 1 and sender.epoch > epoch
    sender.close()


def test_replay_state_is_bounded_least_recently_heard_first():
    rx = TransactionReceiver()
    for port in range(20_000):
        rx.accept(build(V1, 7, 1, []), ("127.0.0.1", port))
    assert len(rx.window) == 4096 and rx.counts["evicted"] == 20_000 - 4096
    with pytest.raises(Rejected, match="replayed"):  # the most recent senders are kept
        rx.accept(build(V1, 7, 1, []), ("127.0.0.1", 19_999))


def test_replayed_ack_transactions_are_replays_not_duplicates():
    rx = TransactionReceiver(KEY)
    acked = [flow_event(RECORD, ack=True)]
    first, second = (build(V2, 4, seq, acked, KEY, epoch=5) for seq in (1, 2))
    rx.accept(first)
    rx.accept(second)
    assert rx.accept(second).duplicate and rx.counts["duplicates"] == 1  # a retransmission
    rx.accept(build(V2, 4, 1, acked, KEY, epoch=6))  # the agent restarted
    for old in (first, second):  # an older transaction, and one from an old epoch
        with pytest.raises(Rejected, match="replayed"):
            rx.accept(old)
    assert rx.counts["replayed"] == 2 and rx.counts["duplicates"] == 1
