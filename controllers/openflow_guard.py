"""Bounds what OpenFlow peers cost the controller process (os-ken 4, native thread hub).

``install()`` runs in the controller before the apps start. Three workarounds,
each for a behaviour of os-ken's ``controller.py`` with native threads (found on
os-ken 4.2; reproduced by ``tests/test_robust_openflow.py``):

- A connection's send thread waits on its queue forever once the peer has gone
  (``hub.kill`` does nothing with native threads), so its serving thread waits
  forever too: each connect-and-close cost two threads for good. When the
  receive loop ends, the send loop now gets one last message and exits.
- A peer that connects and never completes the handshake is served forever:
  now it is closed after ``HANDSHAKE_TIMEOUT`` seconds, and at most
  ``MAX_CONNECTIONS`` peers are served at once (more are closed at once).
- A malformed message is logged with a traceback (and an unknown version ends
  in "HubThread uncaught exception" with another): each becomes one line, at
  most ``LOG_BURST`` a minute, the rest counted in the next line let through.
"""

import logging
import queue
import threading
import time

from os_ken.base import app_manager  # noqa: F401 - first: os-ken's modules import each other
from os_ken.controller import controller
from os_ken.controller.controller import Datapath

MAX_CONNECTIONS = 256
HANDSHAKE_TIMEOUT = 30.0  # generous: OVS in an emulated VM is slow
LOG_BURST = 20
NOISY_LOGGERS = (
    "os_ken.ofproto.ofproto_parser",
    "os_ken.controller.controller",
    "os_ken.lib.hub",
    __name__,
)
LOG = logging.getLogger(__name__)


class OneLineErrors(logging.Filter):
    """Error records without tracebacks, at most LOG_BURST a minute."""

    def __init__(self):
        super().__init__()
        self.window, self.shown, self.hidden = 0, 0, 0
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR:
            return True
        with self._lock:
            minute = int(time.monotonic() // 60)
            if minute != self.window:
                self.window, self.shown = minute, 0
            if self.shown >= LOG_BURST:
                self.hidden += 1
                return False
            self.shown += 1
            hidden, self.hidden = self.hidden, 0
        lines = [line.strip() for line in record.getMessage().splitlines() if line.strip()]
        text = lines[0].replace("Traceback (most recent call last):", "").strip() if lines else ""
        if len(lines) > 1:  # a traceback formatted into the message: its last line
            text += f" ({lines[-1]})"
        if record.exc_info and record.exc_info[1] is not None:
            text += f" ({type(record.exc_info[1]).__name__}: {record.exc_info[1]})"
        if hidden:
            text += f" ({hidden} similar lines left out)"
        record.msg = text
        record.args, record.exc_info, record.exc_text = (), None, None
        return True


def install() -> None:
    """Patch os-ken's OpenFlow server (see the module docstring); call once, before apps."""
    one_line = OneLineErrors()
    for name in NOISY_LOGGERS:
        logging.getLogger(name).addFilter(one_line)
    receive, serve = Datapath._recv_loop, Datapath.serve

    def _recv_loop(self) -> None:
        try:
            receive(self)
        finally:
            _wake_sender(self)

    def _serve(self) -> None:
        timer = threading.Timer(HANDSHAKE_TIMEOUT, _close_unless_known, args=(self,))
        timer.daemon = True
        timer.start()
        try:
            serve(self)
        finally:
            timer.cancel()

    Datapath._recv_loop, Datapath.serve = _recv_loop, _serve
    controller.datapath_connection_factory = _bounded(controller.datapath_connection_factory)


def _wake_sender(dp: Datapath) -> None:
    """One last message for a send loop that may wait on an empty queue."""
    q = dp.send_q
    if q is not None and dp._send_q_sem.acquire(blocking=False):
        try:
            q.put_nowait((b"", True))
        except queue.Full:
            dp._send_q_sem.release()


def _close_unless_known(dp: Datapath) -> None:
    if dp.id is None and dp.is_active:
        dp.close()


def _bounded(factory):
    slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def connection(sock, address) -> None:
        if not slots.acquire(blocking=False):
            sock.close()
            return
        try:
            factory(sock, address)
        except Exception as exc:  # noqa: BLE001 - a peer's bad input ends its connection only
            LOG.error("OpenFlow peer %s:%s dropped: %s: %s", *address[:2], type(exc).__name__, exc)
        finally:
            slots.release()

    return connection
