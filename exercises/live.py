"""What a grader sees of a running lab: JSON from ``ip``, ``bridge``, ``tc``,
rules from ``iptables-save``, and probes (ping, TCP connect) run inside nodes.

Every method takes a node name from the lab (``pod1``, ``node1``) and runs the
tool inside that node's named network namespace, so grading changes nothing.
"""

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from taplab import ready
from taplab.lab import LabHandle
from taplab.shell import run, start, succeeds

# Connect to host:port with a timeout and print what happened: a RST means the
# packet reached the other end; a timeout means something dropped it.
_CONNECT = """
import socket, sys
s = socket.socket(); s.settimeout(float(sys.argv[3]))
try:
    s.connect((sys.argv[1], int(sys.argv[2]))); print("connected")
except ConnectionRefusedError: print("refused")
except OSError: print("timeout")
"""

# Receive one TCP connection on a port and print how many bytes arrived.
_RECEIVE = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(1); s.settimeout(float(sys.argv[2]))
print("listening", flush=True)
total = 0
try:
    conn, _ = s.accept(); conn.settimeout(float(sys.argv[2]))
    while data := conn.recv(65536):
        total += len(data)
except OSError:
    pass
print(total)
"""

# Connect and send n bytes.
_SEND = """
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[4]))
s.sendall(b"x" * int(sys.argv[3])); s.close()
"""

# Send HTTP GETs and print each answer's body on one line; stop at the first error.
_HTTP_GET = """
import sys, urllib.request
for _ in range(int(sys.argv[2])):
    try:
        print(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode().strip())
    except Exception as exc:
        print("error:", exc)
        break
"""


wait_until = ready.until  # graders import it from here


class LiveLab:
    """A running lab, as graders inspect it."""

    def __init__(self, handle: LabHandle):
        self.handle = handle

    @property
    def id(self) -> str:
        return self.handle.id

    @property
    def meta(self) -> dict:
        return self.handle.meta

    def netns(self, node: str) -> str:
        return self.handle.netns(node)

    def output(self, node: str, *argv: str, timeout: float = 30) -> str:
        """Output of argv run inside node (failures included, never raises)."""
        return run(list(argv), check=False, netns=self.netns(node), timeout=timeout)

    def lambda_server(self):
        """The lab's lambda server (a ``ControllerClient``: lambdas, actions, stats, logs)."""
        from taplab.controllers.api_client import ControllerClient

        return ControllerClient.for_lab(self.handle)

    def lambdas(self, kind: str) -> list[dict]:
        """The loaded lambdas that handle events of kind, with their counters."""
        return [w for w in self.lambda_server().lambdas() if kind in w["kinds"]]

    def alerts(self, src: str) -> list[dict]:
        """The Alert actions lambdas returned about src, oldest first."""
        return [
            a
            for a in self.lambda_server().actions()
            if a["action"] == "Alert" and a.get("src") == src
        ]

    def root_sh(self, *argv: str, timeout: float = 30) -> str:
        """Output of argv run in the root namespace (read-only tools: ovs-ofctl)."""
        return run(list(argv), check=False, timeout=timeout)

    def flows(self, bridge: str) -> list[dict[str, str]]:
        """The OpenFlow 1.3 flows of an OVS bridge, each as its ``key=value`` fields
        plus ``match`` (the match fields as written) and ``actions``."""
        flows = []
        for line in self.root_sh(
            "ovs-ofctl", "-O", "OpenFlow13", "dump-flows", bridge
        ).splitlines():
            if "actions=" not in line:
                continue
            head, actions = line.strip().rsplit("actions=", 1)
            fields = [f.strip() for f in head.replace(", ", ",").split(",") if f.strip()]
            flow = dict(f.split("=", 1) for f in fields if "=" in f)
            flow["match"] = ",".join(
                f
                for f in fields
                if f.split("=", 1)[0]
                not in (
                    "cookie",
                    "duration",
                    "table",
                    "n_packets",
                    "n_bytes",
                    "priority",
                    "idle_age",
                    "hard_age",
                    "reset_counts",
                )
            )
            flow["actions"] = actions
            flows.append(flow)
        return flows

    def succeeds(self, node: str, *argv: str, timeout: float = 30) -> bool:
        return succeeds(list(argv), netns=self.netns(node), timeout=timeout)

    def json(self, node: str, *argv: str) -> Any:
        """Parsed JSON output of a ``-j`` command (``[]`` when it printed nothing)."""
        out = run(list(argv), check=False, netns=self.netns(node)).strip()
        try:
            return json.loads(out) if out else []
        except json.JSONDecodeError:
            return []

    # -- interfaces -------------------------------------------------------
    def links(self, node: str) -> dict[str, dict]:
        """Interfaces by name, with details (``ip -j -d link``)."""
        return {link["ifname"]: link for link in self.json(node, "ip", "-j", "-d", "link")}

    def link(self, node: str, name: str) -> dict | None:
        return self.links(node).get(name)

    def addresses(self, node: str, dev: str | None = None) -> list[str]:
        """IPv4 addresses with prefix (``10.244.1.2/24``) of node, or of one interface."""
        found = []
        for entry in self.json(node, "ip", "-j", "-4", "addr"):
            if dev is None or entry.get("ifname") == dev:
                found += [f"{a['local']}/{a['prefixlen']}" for a in entry.get("addr_info", [])]
        return found

    def routes(self, node: str) -> list[dict]:
        return self.json(node, "ip", "-j", "-4", "route")

    def default_gateway(self, node: str) -> str | None:
        for route in self.routes(node):
            if route.get("dst") == "default":
                return route.get("gateway")
        return None

    def bridge_ports(self, node: str, bridge: str) -> list[dict]:
        """The interfaces enslaved to a bridge (``ip -j -d link``, master = bridge)."""
        return [link for link in self.links(node).values() if link.get("master") == bridge]

    def kind(self, link: dict | None) -> str | None:
        """The link type (bridge, veth, vxlan, ...) of an ``ip -d`` entry."""
        return (link or {}).get("linkinfo", {}).get("info_kind")

    def sysctl(self, node: str, key: str) -> str:
        return self.output(node, "sysctl", "-n", key).strip()

    def iptables_rules(self, node: str, table: str = "filter") -> list[str]:
        """The ``-A ...`` lines of one iptables table in node."""
        out = self.output(node, "iptables-save", "-t", table)
        return [line for line in out.splitlines() if line.startswith("-A ")]

    # -- eBPF ------------------------------------------------------------
    def tc_bpf(self, node: str, dev: str, direction: str = "ingress") -> dict | None:
        """The options (bpf_name, direct-action, prog id) of the bpf filter on dev."""
        for entry in self.json(node, "tc", "-j", "filter", "show", "dev", dev, direction):
            if entry.get("kind") == "bpf" and "options" in entry:
                return entry["options"]
        return None

    def bpf_maps(self, prog_id: int) -> list[dict]:
        """The maps a loaded eBPF program uses (``bpftool map show``: id, name, type)."""
        prog = self.json_root("bpftool", "-j", "prog", "show", "id", str(prog_id))
        maps = [
            self.json_root("bpftool", "-j", "map", "show", "id", str(map_id))
            for map_id in (prog.get("map_ids", []) if isinstance(prog, dict) else [])
        ]
        return [m for m in maps if isinstance(m, dict)]

    def bpf_map_entries(self, map_id: int) -> dict[int, int]:
        """An eBPF map with integer keys and values, as a dict (bpftool map dump)."""

        def number(field) -> int:
            if isinstance(field, int):
                return field
            return int.from_bytes(bytes(int(b, 16) for b in field), sys.byteorder)

        return {
            number(e["key"]): number(e["value"])
            for e in self.json_root("bpftool", "-j", "map", "dump", "id", str(map_id))
            if "key" in e and "value" in e
        }

    def json_root(self, *argv: str) -> Any:
        """Parsed JSON output of a tool run in the root namespace (bpftool)."""
        out = self.root_sh(*argv).strip()
        try:
            return json.loads(out) if out else []
        except json.JSONDecodeError:
            return []

    # -- probes ----------------------------------------------------------
    def ping(
        self,
        node: str,
        dst: str,
        size: int | None = None,
        dont_fragment: bool = False,
        count: int = 2,
    ) -> bool:
        """True when a ping from node to dst gets an answer."""
        argv = ["ping", "-n", "-c", str(count), "-i", "0.2", "-W", "1"]
        if size is not None:
            argv += ["-s", str(size)]
        if dont_fragment:
            argv += ["-M", "do"]
        return self.succeeds(node, *argv, dst)

    def connect(self, node: str, host: str, port: int, timeout: float = 1.0) -> str:
        """``connected``, ``refused`` (it got through) or ``timeout`` (it was dropped)."""
        out = self.output(node, sys.executable, "-c", _CONNECT, host, str(port), str(timeout))
        return out.strip().splitlines()[-1] if out.strip() else "timeout"

    def http_get(self, node: str, url: str, times: int = 1) -> list[str]:
        """The body of each of ``times`` GET requests from node, up to the first
        failure, which ends the list as ``error: ...``."""
        out = self.output(
            node, sys.executable, "-c", _HTTP_GET, url, str(times), timeout=10 + 3 * times
        )
        return out.strip().splitlines()

    def tcp_transfer(
        self, src: str, dst: str, dst_ip: str, nbytes: int, port: int = 5201, timeout: float = 5.0
    ) -> int:
        """Bytes that arrived at dst when src sent nbytes over one TCP connection."""
        receiver = start(
            [sys.executable, "-c", _RECEIVE, str(port), str(timeout)],
            netns=self.netns(dst),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            if receiver.stdout.readline().strip() != "listening":
                return 0
            self.output(
                src,
                sys.executable,
                "-c",
                _SEND,
                dst_ip,
                str(port),
                str(nbytes),
                str(timeout),
                timeout=timeout + 5,
            )
            out, _ = receiver.communicate(timeout=timeout + 5)
            return int(out.strip() or 0)
        finally:
            receiver.kill()
            receiver.wait()

    def capture(
        self,
        node: str,
        dev: str,
        bpf: str,
        trigger: Callable[[], object],
        count: int = 2,
        timeout: float = 5.0,
    ) -> list:
        """Packets (scapy) seen on node's dev matching bpf while trigger() runs."""
        from scapy.layers import inet, l2  # noqa: F401 - register Ethernet/IP for decoding
        from scapy.utils import rdpcap

        path = self.handle.workdir / f"grade-{node}-{dev}.pcap"
        tcpdump = start(
            [
                "tcpdump",
                "-i",
                dev,
                "-n",
                "-U",
                "--immediate-mode",
                "-c",
                str(count),
                "-w",
                str(path),
                bpf,
            ],
            netns=self.netns(node),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            tcpdump.stderr.readline()  # "listening on ..." once the capture is open
            trigger()
            tcpdump.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        finally:
            tcpdump.terminate()
            tcpdump.wait()
        try:
            return list(rdpcap(str(path))) if path.exists() else []
        finally:
            path.unlink(missing_ok=True)
