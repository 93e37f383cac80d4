"""The controller's OpenFlow port under peers that are not switches: connect-and-close,
idle and malformed sessions, and fuzzing. Threads return to their baseline, the log
gets one line per error (never a traceback), and the port keeps answering."""

import logging
import os
import socket
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taplab.controllers import runtime
from taplab.controllers.openflow_guard import HANDSHAKE_TIMEOUT, LOG_BURST, OneLineErrors
from taplab.lab import Lab
from tests.conftest import needs, wait_for

HELLO = struct.pack("!BBHI", 4, 0, 8, 1)


def test_errors_become_one_line_each_and_a_burst_is_cut_short():
    records = []
    logger = logging.getLogger("test-one-line")
    logger.addFilter(OneLineErrors())
    logger.addHandler(type("Keep", (logging.Handler,), {"emit": lambda s, r: records.append(r)})())
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        raise ValueError("bad bytes")
    except ValueError:
        logger.exception("parse failed for %s", "peer")
    logger.error("uncaught: %s", "Traceback (most recent call last):\n  File x\nKeyError: 3\n")
    for _ in range(LOG_BURST + 5):
        logger.error("again")
    assert records[0].getMessage() == "parse failed for peer (ValueError: bad bytes)"
    assert records[0].exc_info is None
    assert records[1].getMessage() == "uncaught: (KeyError: 3)"
    assert len(records) == LOG_BURST
    logger.info("info is not limited")
    assert records[-1].getMessage() == "info is not limited"


@pytest.fixture(scope="module")
def openflow():
    """A controller with taplab's default apps: (OpenFlow port, pid, log path, threads)."""
    with Lab("openflow-port") as lab:
        port = runtime.start(lab, [])
        meta = lab.meta["controller"]
        yield port, meta["pid"], Path(meta["log"]), threads(meta["pid"])
    assert "Traceback" not in Path(meta["log"]).read_text()


def threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def answers_hello(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(HELLO)
        return s.recv(8)[:2] in (b"\x04\x00", b"\x05\x00", b"\x01\x00", b"\x06\x00")


@needs()
def test_connect_and_close_sessions_leave_no_threads(openflow):
    port, pid, _, baseline = openflow
    for i in range(150):
        with socket.create_connection(("127.0.0.1", port)) as s:
            if i % 3 == 0:
                s.sendall(HELLO)
    wait_for(
        lambda: threads(pid) <= baseline,
        timeout=20,
        what=f"the threads to return to {baseline} (os-ken kept two per session)",
    )
    assert answers_hello(port)


@needs()
def test_idle_peers_are_closed_after_the_handshake_timeout(openflow):
    port, pid, _, baseline = openflow
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
    try:
        for s in idle:
            s.settimeout(HANDSHAKE_TIMEOUT + 15)
            while s.recv(4096):  # the HELLO, then EOF when the controller gives up
                pass
        wait_for(lambda: threads(pid) <= baseline, timeout=10, what="the idle peers' threads")
    finally:
        for s in idle:
            s.close()


MESSAGE = st.tuples(
    st.sampled_from([1, 4, 5, 6, 7, 0, 0xFF]),  # versions os-ken knows, and some it does not
    st.integers(0, 35),  # message types
    st.binary(max_size=96),
    st.one_of(st.none(), st.integers(0, 0xFFFF)),  # a length that lies, sometimes
)


@needs()
@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(MESSAGE, min_size=1, max_size=4), st.booleans())
def test_fuzzing_the_openflow_port_costs_no_threads_and_no_tracebacks(
    openflow, messages, hello_first
):
    port, _, log, _ = openflow
    data = HELLO if hello_first else b""
    for version, kind, body, length in messages:
        data += (
            struct.pack("!BBHI", version, kind, 8 + len(body) if length is None else length, 7)
            + body
        )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            while s.recv(4096):
                pass
        except OSError:  # the controller may drop a bad peer first
            pass
    assert "Traceback" not in log.read_text()


@needs()
def test_after_fuzzing_threads_are_back_and_the_port_answers(openflow):
    port, pid, log, baseline = openflow
    wait_for(
        lambda: threads(pid) <= baseline,
        timeout=HANDSHAKE_TIMEOUT + 20,
        what="the threads to return to their baseline",
    )
    assert answers_hello(port)
    errors = [line for line in log.read_text().splitlines() if " ERROR " in line]
    assert all(len(line) < 1000 for line in errors), max(errors, key=len)
