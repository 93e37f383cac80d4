"""A lossy UDP relay the grader controls, between a student's agent and a server.

The agent runs in a network namespace of its own (``<lab>-relay``, made and
removed here) whose only server is this relay, listening on 127.0.0.1 at the
server's port; each datagram is forwarded to the real server in the root
namespace, or dropped with probability ``loss`` (each way, seeded), and every
forwarded, dropped and answered datagram is logged with its transaction's
(switch id, sequence number)::

    with LossyRelay(handle, port=9999, loss=0.05) as relay:
        run(["python3", "agent.py"], netns=relay.netns)   # taplab.shell.run
    relay.log  # [(time, "up" | "down", "sent" | "dropped", switch_id, seq, events)]
"""

import ctypes
import os
import random
import select
import socket
import struct
import threading
import time

from taplab import ready
from taplab.shell import run

CLONE_NEWNET = 0x40000000
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
BUFFER = 16 << 20  # bytes: the relay only loses what it decides to lose
QUIET, DRAIN_TIMEOUT = 0.5, 30.0  # seconds: relayed everything once quiet this long
TX_HEADER = struct.Struct("!BIIB")  # version, switch id, sequence number, event count


def _socket_in(netns: str) -> socket.socket:
    """A UDP socket created inside named network namespace netns (this thread returns)."""
    libc = ctypes.CDLL(None, use_errno=True)
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{netns}", os.O_RDONLY)
    try:
        if libc.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"cannot enter {netns}")
        try:
            return socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        finally:
            if libc.setns(home, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "cannot return to the root namespace")
    finally:
        os.close(home)
        os.close(target)


class LossyRelay:
    """Relays one agent's datagrams to a server on 127.0.0.1:port, losing some."""

    def __init__(self, handle, port: int, loss: float, seed: int = 1):
        self.handle, self.port, self.loss = handle, port, loss
        self.rng = random.Random(seed)
        self.netns = f"{handle.id}-relay"
        self.log: list[tuple[float, str, str, int, int, int]] = []
        self._stop = threading.Event()
        self._last = time.monotonic()  # when the relay last received a datagram

    def __enter__(self) -> "LossyRelay":
        run(["ip", "netns", "add", self.netns])
        self.handle.record({"kind": "netns", "name": self.netns})
        run(["ip", "link", "set", "lo", "up"], netns=self.netns)
        result: dict = {}
        thread = threading.Thread(target=lambda: result.update(s=_socket_in(self.netns)))
        thread.start()
        thread.join()
        self.agent_side = result["s"]
        self.agent_side.bind(("127.0.0.1", self.port))
        self.server_side = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for sock in (self.agent_side, self.server_side):  # a burst must not overflow them
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, BUFFER)
        self.server_side.connect(("127.0.0.1", self.port))
        self._thread = threading.Thread(target=self._relay, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        # what the agent sent last may still be being relayed
        ready.until(lambda: time.monotonic() - self._last >= QUIET, DRAIN_TIMEOUT)
        self._stop.set()
        self._thread.join(timeout=5)
        self.agent_side.close()
        self.server_side.close()
        run(["ip", "netns", "delete", self.netns], check=False)

    def _note(self, way: str, fate: str, datagram: bytes) -> None:
        if len(datagram) >= TX_HEADER.size:
            _version, switch, seq, count = TX_HEADER.unpack_from(datagram)
            self.log.append((time.monotonic(), way, fate, switch, seq, count))

    def _relay(self) -> None:
        agent = None
        while not self._stop.is_set():
            readable, _, _ = select.select([self.agent_side, self.server_side], [], [], 0.1)
            for sock in readable:
                data, peer = sock.recvfrom(65535)
                self._last = time.monotonic()
                up = sock is self.agent_side
                agent = peer if up else agent
                if self.rng.random() < self.loss:
                    self._note("up" if up else "down", "dropped", data)
                elif up:
                    self._note("up", "sent", data)
                    self.server_side.send(data)
                elif agent is not None:
                    self._note("down", "sent", data)
                    self.agent_side.sendto(data, agent)
