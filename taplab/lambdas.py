"""The lambda API: functions that react to network events and return actions.

    from taplab.lambdas import on, Alert, Block

    @on("flow_stats", "telemetry")
    def syn_flood(event, ctx):
        if event.data.get("syn", 0) > 1000:
            return [Alert("syn-flood", src=event.src), Block(src=event.src, seconds=30)]

Actions are plain values; the lambda server turns them into OpenFlow messages,
so a lambda is tested by calling it with an event and a context.

Events (``event.data`` by kind):

- ``packet_in``: copies of TCP SYN/RST/FIN packets, first packets of new
  flows and a configurable sample; src/dst are IPv4 addresses; data: proto
  ("tcp", "udp", "icmp", or the protocol number), sport, dport, flags
  (scapy-style: "S", "SA", "R", "RA", "F", "FA", "PA"), len, in_port.
- ``flow_stats``: one per flow entry, polled; data: table_id, priority, match,
  packets, bytes, duration, idle_timeout, hard_timeout.
- ``port_stats``: one per switch port, polled; data: port_no, name, rx_/tx_
  packets, bytes, dropped, errors.
- ``telemetry``: one per flow record from a switch agent; dpid is the agent's
  switch id; data: proto, sport, dport, packets, bytes, syn, rst, empty_udp,
  event_id (other event ids: event_id and the raw payload).
- ``tap``: whatever the taps' collector posts (``POST /events``).
- ``timer``: every second; data: interval.

``ctx`` (see ``taplab.controllers.lambda_context``): ``ctx.store`` (set, get,
incr with a ttl), ``ctx.log``, ``ctx.now()``, ``ctx.topology`` (networkx).
A lambda runs in its own process with a time limit per call (1 s) and a
memory limit (256 MB); past them it is stopped, counted and reported.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

EVENT_KINDS = ("packet_in", "flow_stats", "port_stats", "telemetry", "tap", "timer")


def on(*kinds: str) -> Callable:
    """Register a function ``fn(event, ctx)`` for the given event kinds."""
    unknown = [k for k in kinds if k not in EVENT_KINDS]
    if not kinds or unknown:
        raise ValueError(f"@on needs event kinds from {', '.join(EVENT_KINDS)}; got {kinds}")

    def mark(fn: Callable) -> Callable:
        fn.__taplab_kinds__ = tuple(kinds)
        return fn

    return mark


@dataclass
class Event:
    """One network event: its kind, when, where from, and its data."""

    kind: str
    time: float
    dpid: int | None = None
    src: str | None = None
    dst: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Alert:
    """Report something: a name and the facts that explain it."""

    name: str
    src: str | None = None
    dst: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class Block:
    """Drop traffic from src (an IPv4 address) for seconds (an OpenFlow hard timeout)."""

    src: str
    seconds: int = 30
    dst: str | None = None


@dataclass(frozen=True)
class Mirror:
    """Copy traffic matching src/dst to the switch port named to_port."""

    to_port: str
    src: str | None = None
    dst: str | None = None
    seconds: int = 0


@dataclass(frozen=True)
class RateLimit:
    """Limit traffic from src to kbps with an OpenFlow meter."""

    src: str
    kbps: int
    seconds: int = 30


@dataclass(frozen=True)
class InstallFlow:
    """Install a flow in the policy table (table 1): match fields in OFPMatch style,
    actions in os-ken's ofctl JSON style (``{"type": "OUTPUT", "port": 2}``); add
    ``{"type": "GOTO_TABLE", "table_id": 2}`` to go on to the learning switch."""

    match: dict[str, Any]
    actions: list[dict[str, Any]]
    priority: int = 100
    idle_timeout: int = 0
    hard_timeout: int = 0
    dpid: int | None = None


Action = Alert | Block | Mirror | RateLimit | InstallFlow
