"""Ryu's hub timeouts on os-ken's native thread hub: what stplib's port timers need."""

import threading
import time

import pytest

from taplab.controllers.ryu_hub import Event, Timeout, sleep


def test_a_timeout_interrupts_a_wait_in_its_own_thread():
    event = Event()
    started = time.monotonic()
    timeout = Timeout(0.3)
    with pytest.raises(Timeout) as raised:
        event.wait()
    assert raised.value is timeout and 0.25 < time.monotonic() - started < 2
    timeout.cancel()
    assert Event().wait(0.05) is False  # disarmed: a plain wait with a limit


def test_a_cancelled_timeout_does_not_fire_and_a_set_event_wins():
    timeout = Timeout(0.1)
    timeout.cancel()
    assert Event().wait(0.3) is False
    event = Event()
    threading.Timer(0.05, event.set).start()
    with Timeout(2):
        assert event.wait() is True


def test_timeouts_belong_to_the_thread_that_made_them():
    event, seen = Event(), []

    def other():
        seen.append(event.wait(1.0))

    thread = threading.Thread(target=other)
    with Timeout(0.1, False):  # quiet: ends the block, not the other thread's wait
        thread.start()
        sleep(5)
    thread.join()
    assert seen == [False]


def test_a_timeout_with_an_exception_raises_it():
    with pytest.raises(ValueError):
        with Timeout(0.05, ValueError("late")):
            sleep(2)
