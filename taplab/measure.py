"""Measuring lab nodes: iperf3 throughput (``--json``, never Mininet's iperf helper),
interface counters, and offloads off so that counters compare.

    result = iperf3(lab, "pod1", "pod2", seconds=3, rate="100M")
    result.mbps, result.retransmits
    offloads_off(lab, "pod1")                   # one skb is one wire-sized packet
    intf_counters(lab, "pod1", "pod1-eth0")     # {"rx_packets": ..., "tx_bytes": ...}
"""

import json
from dataclasses import dataclass

from taplab.errors import UserError
from taplab.shell import capture


@dataclass
class Throughput:
    client: str
    server: str
    mbps: float
    retransmits: int
    seconds: float
    raw: dict

    def as_dict(self) -> dict:
        return {
            "client": self.client,
            "server": self.server,
            "mbps": round(self.mbps, 2),
            "retransmits": self.retransmits,
            "seconds": self.seconds,
        }


COUNTERS = ("rx_packets", "tx_packets", "rx_bytes", "tx_bytes")


def _links(lab, node: str, intf: str | None, stats: bool = False) -> list[dict]:
    """ip's JSON of node's interface intf, or of every interface but lo."""
    argv = ["ip", "-s", "-j", "link", "show"] if stats else ["ip", "-j", "link", "show"]
    argv += ["dev", intf] if intf else []
    return [link for link in json.loads(lab.sh(node, argv) or "[]") if link["ifname"] != "lo"]


def interfaces(lab, node: str) -> list[str]:
    """node's interfaces but lo."""
    return [link["ifname"] for link in _links(lab, node, None)]


def intf_counters(lab, node: str, intf: str | None = None) -> dict[str, int]:
    """Packets and bytes received and sent on node's interface intf (summed over every
    interface but lo by default)."""
    totals = dict.fromkeys(COUNTERS, 0)
    for link in _links(lab, node, intf, stats=True):
        for counter in COUNTERS:
            direction, unit = counter.split("_")
            totals[counter] += link.get("stats64", {}).get(direction, {}).get(unit, 0)
    return totals


def offloads_off(lab, node: str, intf: str | None = None) -> None:
    """No TSO, GSO or GRO on node's interface intf (every interface but lo by default):
    one skb is one wire-sized packet, so tap, tool and interface counters compare."""
    for name in [intf] if intf else interfaces(lab, node):
        lab.sh(node, ["ethtool", "-K", name, "tso", "off", "gso", "off", "gro", "off"])


def node_ip(lab, node: str) -> str:
    """The node's first global IPv4 address."""
    out = lab.sh(node, ["ip", "-j", "-4", "addr", "show", "scope", "global"])
    for link in json.loads(out or "[]"):
        for addr in link.get("addr_info", []):
            return addr["local"]
    raise UserError(f"node '{node}' has no IPv4 address to measure to.")


def iperf3_client_argv(
    target: str, port: int, seconds: float, rate: str | None = None, udp: bool = False
) -> list[str]:
    """The iperf3 client command iperf3() runs (its server: iperf3 -s -1 -p port)."""
    argv = ["iperf3", "-c", target, "-p", str(port), "-t", str(seconds), "--json"]
    argv += ["--connect-timeout", "3000"]
    argv += ["-b", rate] if rate else []
    return argv + (["-u"] if udp else [])


def iperf3(
    lab,
    client: str,
    server: str,
    seconds: float = 3,
    rate: str | None = None,
    port: int = 5201,
    udp: bool = False,
    target: str | None = None,
) -> Throughput:
    """Run one iperf3 test from client to server (at target, or its first address) inside
    the lab and parse its JSON."""
    target = target or node_ip(lab, server)
    srv = lab.popen(["iperf3", "-s", "-1", "-p", str(port)], node=server, grace=1.0)
    try:
        argv = iperf3_client_argv(target, port, seconds, rate, udp)
        for _attempt in range(20):  # the server needs a moment to listen
            proc = capture(argv, netns=lab.netns(client), timeout=seconds + 30)
            data = json.loads(proc.stdout or "{}")
            if "error" not in data or "connect" not in data["error"]:
                break
    finally:
        srv.kill()
        srv.wait()
    if "error" in data or proc.returncode != 0:
        raise UserError(
            f"iperf3 from {client} to {server} failed: {data.get('error', proc.stderr.strip())}."
        )
    end = data["end"]
    summary = end.get("sum_received") or end.get("sum")
    return Throughput(
        client,
        server,
        summary["bits_per_second"] / 1e6,
        end.get("sum_sent", {}).get("retransmits", 0),
        seconds,
        data,
    )
