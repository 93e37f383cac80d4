"""The lambda server's HTTP API under hostile clients, on a real controller process:
idle connections, lying Content-Length headers, bad shapes, deep nesting, and fuzzing.
Every request gets a status line, never a dropped connection or a traceback in the log."""

import json
import os
import resource
import socket
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taplab.controllers import runtime
from taplab.controllers.api_client import ControllerClient
from taplab.controllers.lambda_api import DEADLINE, MAX_BODY, MAX_CONNECTIONS, TIMEOUT
from taplab.lab import Lab
from tests.conftest import needs, wait_for

pytestmark = needs()


@pytest.fixture(scope="module")
def api():
    """A controller process running only the lambda server: (lab, client, port, token)."""
    with Lab("api-test") as lab:
        runtime.start(lab, [runtime.LAMBDA_APP])
        meta = lab.meta["controller"]
        token = Path(meta["token_file"]).read_text().strip()
        yield lab, ControllerClient.for_lab(lab), int(meta["api_url"].rsplit(":", 1)[1]), token
        log = Path(meta["log"]).read_text()
    assert "Traceback" not in log, log[-3000:]


def exchange(port: int, request: bytes, timeout: float = 15) -> int | None:
    """Send a raw request, close our side, return the reply's status (None: no reply;
    0: a reply without a status line, as HTTP/0.9 request lines get)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(request)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may answer and close before reading everything
        reply = b""
        try:
            while chunk := s.recv(65536):
                reply += chunk
        except ConnectionResetError:
            pass
    first = reply.split(b"\r\n", 1)[0].split()
    if len(first) >= 2 and first[0].startswith(b"HTTP/") and first[1].isdigit():
        return int(first[1])
    return 0 if reply else None


def post(port: int, token: str, path: str, body: bytes, length: str | None = None) -> bytes:
    length = str(len(body)) if length is None else length
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode() + body


def descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_idle_connections_are_bounded_and_health_keeps_answering(api):
    lab, client, port, _ = api
    pid = lab.meta["controller"]["pid"]
    baseline = descriptors(pid)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    idle = []
    try:
        for _ in range(1020):
            s = socket.socket()
            s.settimeout(5)
            s.connect(("127.0.0.1", port))
            idle.append(s)
        assert descriptors(pid) <= baseline + MAX_CONNECTIONS + 8
        wait_for(
            lambda: exchange(port, b"GET /health HTTP/1.0\r\n\r\n") == 200,
            timeout=20,
            what="/health to answer while 1020 idle connections are open",
        )
    finally:
        for s in idle:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    wait_for(
        lambda: descriptors(pid) <= baseline + 2,
        timeout=20,
        what="the descriptors to return to their baseline",
    )
    assert client.request("GET", "/stats")["api"]["refused"] > 0


def test_a_negative_content_length_does_not_bypass_the_body_limit(api):
    _, _, port, token = api
    big = json.dumps({"events": [], "pad": "x" * (MAX_BODY + 1024)}).encode()
    assert exchange(port, post(port, token, "/events", big, "-1")) == 400
    assert exchange(port, post(port, token, "/events", big)) == 413


@pytest.mark.parametrize(
    "request_bytes",
    [
        pytest.param(lambda t: post(0, t, "/events", b"{}", "abc"), id="content-length-abc"),
        pytest.param(lambda t: post(0, t, "/events", b'{"events": 5}'), id="events-not-a-list"),
        pytest.param(lambda t: post(0, t, "/events", b'{"events": [{"data": 3}]}'), id="bad-data"),
        pytest.param(lambda t: post(0, t, "/events", b"[" * 200_000), id="deeply-nested"),
        pytest.param(
            lambda t: post(0, t, "/actions", b'{"type": ["Block"]}'), id="action-type-list"
        ),
        pytest.param(lambda t: post(0, t, "/events", b"{}", "10"), id="body-shorter-than-said"),
    ],
)
def test_bad_requests_get_a_4xx_not_a_dropped_connection(api, request_bytes):
    _, client, port, token = api
    assert exchange(port, request_bytes(token)) in (400, 413)
    assert client.request("GET", "/health")["ok"]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                ["kind", "src", "dst", "dpid", "data", "events", "type", "name", "seconds"]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)
PATHS = [
    "/health",
    "/lambdas",
    "/lambdas/x",
    "/lambdas/x/logs",
    "/stats",
    "/actions",
    "/events",
    "/",
    "//",
    "/%00",
    "/lambdas/" + "a" * 300,
]


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    method=st.sampled_from(["GET", "POST", "DELETE", "PUT", "G\x00T", ""]),
    path=st.one_of(st.sampled_from(PATHS), st.text(max_size=20).map(lambda t: "/" + t)),
    auth=st.booleans(),
    body=st.one_of(JSON.map(lambda v: json.dumps(v).encode()), st.binary(max_size=64)),
    length=st.one_of(
        st.none(), st.sampled_from(["-5", "abc", "1e3", " 7", "99999999999", "0x10", "", "٣"])
    ),
)
def test_fuzzing_the_api_never_drops_a_connection_or_fails_inside(
    api, method, path, auth, body, length
):
    _, client, port, token = api
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\n"
    if auth:
        head += f"Authorization: Bearer {token}\r\n"
    head += f"Content-Length: {len(body) if length is None else length}\r\n\r\n"
    status = exchange(port, head.encode(errors="surrogateescape") + body)
    assert status is not None and (status < 500 or status == 501), status
    assert client.request("GET", "/stats")["api"].get("internal_errors", 0) == 0


def test_a_request_trickled_byte_by_byte_is_cut_off_at_the_deadline(api):
    _, client, port, _ = api
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE + 10) as s:
        s.sendall(b"GET /health HTTP/1.0\r\n")
        try:
            while time.monotonic() - started < DEADLINE + 10:
                s.sendall(b"X")  # each byte within the idle timeout
                time.sleep(TIMEOUT / 3)
        except OSError:  # the server shut the connection
            pass
    assert time.monotonic() - started < DEADLINE + 5
    assert client.request("GET", "/stats")["api"]["too_slow"] >= 1
