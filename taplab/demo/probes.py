"""What the demo reads off a running lab: recorded actions, interface counters."""

import json
import time

from taplab.errors import UserError


def read_actions(lab) -> list[dict]:
    """Every action the lambda server recorded (``actions.jsonl``), alerts included."""
    path = lab.workdir / "actions.jsonl"
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return []
    return [json.loads(line) for line in lines if line.endswith("}")]


def wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise UserError(f"{what} did not come up within {timeout:.0f} s.")
        time.sleep(0.1)


def pod_interfaces(lab, node: str) -> list[str]:
    return [link["ifname"] for link in json.loads(lab.sh(node, ["ip", "-j", "link"]) or "[]")
            if link["ifname"] != "lo"]


def intf_counters(lab, node: str) -> dict[str, int]:
    """Summed rx/tx packet and byte counters of a node's non-loopback interfaces."""
    totals = {"rx_packets": 0, "tx_packets": 0, "rx_bytes": 0, "tx_bytes": 0}
    for link in json.loads(lab.sh(node, ["ip", "-s", "-j", "link", "show"]) or "[]"):
        if link["ifname"] == "lo":
            continue
        stats = link.get("stats64", {})
        for direction in ("rx", "tx"):
            totals[f"{direction}_packets"] += stats.get(direction, {}).get("packets", 0)
            totals[f"{direction}_bytes"] += stats.get(direction, {}).get("bytes", 0)
    return totals
