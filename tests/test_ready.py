"""taplab.ready: waiting for a real process's marker, its exit, a timeout, a port."""

import socket
import subprocess

import pytest

from taplab import ready
from taplab.errors import UserError


def start(tmp_path, script: str) -> tuple[subprocess.Popen, object]:
    log = tmp_path / "proc.log"
    proc = subprocess.Popen(["sh", "-c", script], stdout=log.open("w"), stderr=subprocess.STDOUT)
    return proc, log


def test_returns_once_the_marker_is_in_the_log(tmp_path):
    proc, log = start(tmp_path, "sleep 0.3; echo serving; sleep 30")
    try:
        ready.wait(proc, log, "the server", ready.marker(log, "serving"), timeout=10)
        assert proc.poll() is None and "serving" in log.read_text()
    finally:
        proc.kill()
        proc.wait()


def test_an_exit_ends_the_wait_with_the_last_lines_of_the_log(tmp_path):
    proc, log = start(tmp_path, "echo one; echo two; echo three; echo 'Error: no eth0'; exit 3")
    with pytest.raises(UserError) as err:
        ready.wait(proc, log, "the sensor in pod1", ready.marker(log, "# ready"), timeout=30)
    message = str(err.value)
    assert message.startswith("the sensor in pod1 exited at start-up (exit 3): ")
    assert "two | three | Error: no eth0" in message and "one" not in message
    assert str(log) in message


def test_a_timeout_names_the_wait_and_what_was_printed(tmp_path):
    proc, log = start(tmp_path, "echo starting; sleep 30")
    try:
        with pytest.raises(UserError, match=r"the tap was not ready within 0.5 s: starting; "):
            ready.wait(proc, log, "the tap", ready.marker(log, "ready"), timeout=0.5)
    finally:
        proc.kill()
        proc.wait()


def test_only_output_after_offset_counts(tmp_path):
    log = tmp_path / "controller.log"
    log.write_text("ready from the last run\n")
    offset = log.stat().st_size
    assert not ready.marker(log, "ready", offset)()
    assert ready.last_lines(log, offset) == "no output"
    with log.open("a") as f:
        f.write("ready\n")
    assert ready.marker(log, "ready", offset)() and ready.last_lines(log, offset) == "ready"


def test_a_missing_log_reads_as_no_output(tmp_path):
    assert ready.last_lines(tmp_path / "never-written.log") == "no output"
    assert not ready.marker(tmp_path / "never-written.log", "ready")()


def test_listening_sees_a_bound_port_only_while_it_listens():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        port = server.getsockname()[1]
        assert not ready.listening(port)
        server.listen()
        assert ready.listening(port)


def test_until_gives_the_first_truthy_value_or_none_after_the_timeout():
    values = iter([0, None, "", "found", "later"])
    assert ready.until(lambda: next(values), timeout=5, interval=0.01) == "found"
    calls = []
    assert ready.until(lambda: calls.append(1), timeout=0.2, interval=0.05) is None
    assert len(calls) >= 3  # it kept asking until the deadline


def test_steady_gives_the_value_two_reads_agree_on_or_the_last_one_after_the_timeout():
    counts = iter([1, 5, 9, 9, 12])
    assert ready.steady(lambda: next(counts), timeout=5, interval=0.01) == 9
    pairs = iter([(1, "a"), (2, "b"), (2, "c"), (3, "d")])
    assert ready.steady(lambda: next(pairs), 5, 0.01, key=lambda p: p[0]) == (2, "b")
    moving = iter(range(1000))
    last = ready.steady(lambda: next(moving), timeout=0.2, interval=0.05)
    assert 1 <= last < 10  # no two reads agreed: the last one read before the deadline
