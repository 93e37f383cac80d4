"""Throughput between two lab nodes with iperf3 ``--json`` (never Mininet's iperf helper).

    result = iperf3(lab, "pod1", "pod2", seconds=3, rate="100M")
    result.mbps, result.retransmits
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
        return {"client": self.client, "server": self.server, "mbps": round(self.mbps, 2),
                "retransmits": self.retransmits, "seconds": self.seconds}


def node_ip(lab, node: str) -> str:
    """The node's first global IPv4 address."""
    out = lab.sh(node, ["ip", "-j", "-4", "addr", "show", "scope", "global"])
    for link in json.loads(out or "[]"):
        for addr in link.get("addr_info", []):
            return addr["local"]
    raise UserError(f"node '{node}' has no IPv4 address to measure to.")


def iperf3(lab, client: str, server: str, seconds: float = 3, rate: str | None = None,
           port: int = 5201, udp: bool = False, target: str | None = None) -> Throughput:
    """Run one iperf3 test from client to server (at target, or its first address) inside
    the lab and parse its JSON."""
    target = target or node_ip(lab, server)
    srv = lab.popen(["iperf3", "-s", "-1", "-p", str(port)], node=server, grace=1.0)
    try:
        argv = ["iperf3", "-c", target, "-p", str(port), "-t", str(seconds), "--json",
                "--connect-timeout", "3000"]
        if rate:
            argv += ["-b", rate]
        if udp:
            argv.append("-u")
        for _attempt in range(20):  # the server needs a moment to listen
            proc = capture(argv, netns=lab.netns(client), timeout=seconds + 30)
            data = json.loads(proc.stdout or "{}")
            if "error" not in data or "connect" not in data["error"]:
                break
    finally:
        srv.kill()
        srv.wait()
    if "error" in data or proc.returncode != 0:
        raise UserError(f"iperf3 from {client} to {server} failed: "
                        f"{data.get('error', proc.stderr.strip())}.")
    end = data["end"]
    summary = end.get("sum_received") or end.get("sum")
    return Throughput(client, server, summary["bits_per_second"] / 1e6,
                      end.get("sum_sent", {}).get("retransmits", 0), seconds, data)
