"""Taps on a running lab: attach, detach, list, stats (what ``taplab tap`` does).

tap = attach(lab, "pod1", "sidecar", collector="pod3", vni=42)
stats(lab, tap["id"])  # packets, bytes, drops, cpu_pct, mem_mb, ...
detach(lab, tap["id"])
"""

import importlib
import time
from typing import Any

from taplab import capabilities, ready
from taplab.errors import UserError
from taplab.taps import collector as collectors
from taplab.taps.base import KINDS, Tap
from taplab.taps.procstat import cpu_seconds
from taplab.taps.target import resolve

MODULES = ("sidecar", "tc_mirred", "ebpf", "xdp_flowtable", "openflow", "pcap")
DEFAULTS: dict[str, Any] = {
    "vni": 42,
    "mirror": "none",
    "flows": 1024,
    "slots": 4096,
    "interval": None,
    "ack": False,
    "snaplen": 262144,
    "size_mb": 10,
    "files": 4,
}


LIMITS = {
    "vni": (0, 2**24 - 1),
    "flows": (1, 2**20),
    "slots": (1, 2**20),
    "interval": (0.05, 3600),
    "size_mb": (1, 10**5),
    "files": (1, 1000),
}


def check_options(options: dict[str, Any]) -> None:
    """One sentence for an option out of range, before anything is created."""
    for name, (low, high) in LIMITS.items():
        value = options.get(name)
        if value is not None and not low <= value <= high:
            flag = "--" + name.replace("_", "-")
            raise UserError(f"{flag} must be between {low} and {high}, not {value}.")


def kinds() -> dict[str, type[Tap]]:
    for module in MODULES:
        importlib.import_module(f"taplab.taps.{module}")
    return KINDS


def _tap(lab, record: dict) -> Tap:
    return kinds()[record["kind"]](lab, record)


def records(lab) -> dict[str, dict]:
    return lab.meta.get("taps", {})


def _next_id(lab) -> str:
    """tap1, tap2, ...: never reused in a lab, so no file of an old tap is mistaken for it."""
    n = lab.meta.get("taps_created", 0) + 1
    lab.set_meta(taps_created=n)
    return f"tap{n}"


def attach(
    lab, spec: str, kind: str, collector: str | None = None, collector_pcap: bool = False, **options
) -> dict:
    """Attach a tap of kind to NODE[:INTF]; return its record (with its id)."""
    if kind not in kinds():
        raise UserError(f"unknown tap kind '{kind}': choose one of {', '.join(sorted(KINDS))}.")
    cls = KINDS[kind]
    for feature in cls.needs:
        capabilities.require(feature)
    options = {**DEFAULTS, **{k: v for k, v in options.items() if v is not None}}
    check_options(options)
    target = resolve(lab, spec, host_side=cls.host_side)
    for other in records(lab).values():
        if (other["target"]["netns"], other["target"]["intf"]) == (target.netns, target.intf):
            raise UserError(
                f"{target.node}:{target.intf} already has tap {other['id']} "
                f"({other['kind']}); detach it first."
            )
    # collector: the VXLAN collector of mirroring kinds; mirror_to: where an openflow tap's
    # mirror port goes (the same --collector NODE).
    record = {
        "id": _next_id(lab),
        "kind": kind,
        "target": vars(target),
        "options": options,
        "resources": [],
        "pids": [],
        "collector": None,
        "mirror_to": collector,
    }
    tap = cls(lab, record)
    if tap.mirrors:
        if not collector:
            raise UserError(
                f"a {kind} tap sends copies to a collector: name the node with --collector NODE."
            )
        info = collectors.ensure(lab, collector, pcap=collector_pcap)
        record.update(collector=collector, collector_ip=info["ip"])
    try:
        tap.attach()
    except BaseException:
        tap.detach()
        if record["collector"]:
            collectors.release(lab, record["collector"])
        raise
    # CPU is measured from here: start-up (bcc compiling a program) is not the tap's load.
    record.update(attached=time.time(), cpu_at_attach=cpu_seconds(record["pids"]))
    lab.set_meta(taps={**records(lab), record["id"]: record})
    return record


def get(lab, tap_id: str) -> dict:
    taps = records(lab)
    if tap_id not in taps:
        known = ", ".join(sorted(taps)) or "none"
        raise UserError(f"no tap '{tap_id}' in lab {lab.id} (taps: {known}).")
    return taps[tap_id]


def detach(lab, tap_id: str) -> dict:
    """Remove a tap and everything it created; stop its collector if now unused."""
    record = get(lab, tap_id)
    _tap(lab, record).detach()
    lab.set_meta(taps={k: v for k, v in records(lab).items() if k != tap_id})
    if record["collector"]:
        collectors.release(lab, record["collector"])
    return record


def stats(lab, tap_id: str) -> dict:
    """A tap's live counters, CPU and memory, and its collector's counters."""
    record = get(lab, tap_id)
    result = _tap(lab, record).stats()
    if record["collector"]:
        info = lab.meta.get("collectors", {}).get(record["collector"])
        if info:
            result["collector"] = collectors.read(info)
    return result


def settled(lab, tap_id: str | None, timeout: float = 5) -> tuple[dict, dict]:
    """The tap's (and its collector's) counters once they stop moving; ({}, {}) without
    a tap."""
    if tap_id is None:
        return {}, {}
    last = ready.steady(
        lambda: stats(lab, tap_id),
        timeout,
        1.2,  # longer than tcpdump's 1 s buffer timeout
        key=lambda now: (now["packets"], now.get("collector", {}).get("packets")),
    )
    return last, last.get("collector", {})
