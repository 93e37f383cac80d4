"""L3 GRE tunnels on Open vSwitch's userspace datapath, for kernels without GRE.

Each tunnel end (a node) runs its own ovsdb-server and ovs-vswitchd inside its
namespace, started and stopped by the lab, so each sees only its own routes, as
on separate machines. Two bridges per node:

- ``brphy`` holds the node's underlay interface, whose address moves onto the
  bridge: OVS sends the encapsulated packets out of it (native tunnelling);
- the tunnel bridge (``gre0`` on a cluster node, ``gre1`` on a spine-leaf leaf,
  named like the kernel device it stands in for) has one ``gre`` port per peer
  (``packet_type=legacy_l3``: IP in GRE, IP protocol 47, a 4-byte header, like
  a kernel ``gre`` device) and OpenFlow rules: IP to a peer's networks out of
  that peer's port, whatever a port receives up to the node. Its interface has
  ARP off; the node routes the peers' networks through it::

      pod -- cni0 -- node1 --route--> gre0 ==GRE==> brphy -- underlay -- node2
"""

import json
import os
import shlex
import subprocess
from dataclasses import dataclass

from taplab import ready
from taplab.errors import UserError

UNDERLAY_BRIDGE = "brphy"
START_TIMEOUT = 15.0


@dataclass
class Tunnel:
    port: str  # the OVS port, e.g. gre2
    remote: str  # the peer's underlay address
    networks: list[str]  # what the node sends through it


@dataclass
class End:
    host: object  # the Mininet host (a node, a leaf)
    underlay_dev: str  # its interface towards the other ends
    tunnels: list[Tunnel]


class NodeSwitch:
    """One node's own Open vSwitch (database, switch daemon, control commands)."""

    def __init__(self, lab, host):
        self.lab, self.host = lab, host
        self.dir = lab.rundir / f"ovs-{host.name}"
        self.env = {
            "OVS_RUNDIR": str(self.dir),
            "OVS_LOGDIR": str(self.dir),
            "OVS_DBDIR": str(self.dir),
        }
        self.db = f"unix:{self.dir}/db.sock"

    def start(self) -> None:
        self.dir.mkdir(exist_ok=True)
        self._run(
            [
                "ovsdb-tool",
                "create",
                str(self.dir / "conf.db"),
                "/usr/share/openvswitch/vswitch.ovsschema",
            ]
        )
        self._daemon(
            [
                "ovsdb-server",
                str(self.dir / "conf.db"),
                f"--remote=p{self.db}",
                f"--unixctl={self.dir}/ovsdb.ctl",
            ],
            "ovsdb.log",
        )
        self._wait_for(self.dir / "db.sock", "ovsdb-server")
        self.vsctl("--no-wait", "init")
        self._daemon(
            ["ovs-vswitchd", self.db, f"--unixctl={self.dir}/vswitchd.ctl"], "vswitchd.log"
        )
        self._wait_for(self.dir / "vswitchd.ctl", "ovs-vswitchd")

    def _daemon(self, argv: list[str], log: str) -> None:
        self.lab.popen(
            [*argv, "--no-chdir", f"--log-file={self.dir / log}"],
            node=self.host,
            env={**os.environ, **self.env},
        )

    def _wait_for(self, path, what: str) -> None:
        if not ready.until(path.exists, START_TIMEOUT):
            raise UserError(
                f"{what} for {self.host.name}'s GRE tunnels did not start: see {self.dir}."
            )

    def vsctl(self, *args: str) -> str:
        return self._run(["ovs-vsctl", f"--db={self.db}", "--timeout=20", *args])

    def ofctl(self, *args: str) -> str:
        return self._run(["ovs-ofctl", "-O", "OpenFlow13", *args])

    def appctl(self, *args: str) -> str:
        return self._run(["ovs-appctl", "-t", f"{self.dir}/vswitchd.ctl", *args])

    def _run(self, argv: list[str]) -> str:
        result = subprocess.run(
            argv, capture_output=True, text=True, env={**os.environ, **self.env}
        )
        if result.returncode != 0:
            raise RuntimeError(f"{shlex.join(argv)}: {result.stderr.strip()}")
        return result.stdout


def connect(lab, ends: list[End], dev: str, mtu: int) -> None:
    """Give every end its switch and tunnel bridge dev, then the MAC addresses of its
    next hops (final only once every end has moved its address onto brphy)."""
    switches = [_setup(lab, end, dev, mtu) for end in ends]
    for switch, end in zip(switches, ends, strict=True):
        _resolve(switch, [tunnel.remote for tunnel in end.tunnels])


def _setup(lab, end: End, dev: str, mtu: int) -> NodeSwitch:
    """Start the end's switch, move the underlay interface's addresses and routes onto
    brphy, add the tunnel bridge dev."""
    host, underlay_dev, tunnels = end.host, end.underlay_dev, end.tunnels
    switch = NodeSwitch(lab, host)
    switch.start()
    addresses = json.loads(host.cmd(f"ip -j addr show dev {underlay_dev}"))[0]["addr_info"]
    ipv4 = [f"{a['local']}/{a['prefixlen']}" for a in addresses if a["family"] == "inet"]
    routes = [
        r for r in json.loads(host.cmd(f"ip -j -4 route show dev {underlay_dev}")) if "gateway" in r
    ]
    # OVS picks a bridge's MAC address from its ports unless told: pin both bridges'
    # addresses, or the peers' neighbour entries and the rules below go stale.
    underlay_mac = host.cmd(f"cat /sys/class/net/{underlay_dev}/address").strip()
    switch.vsctl(
        "add-br",
        UNDERLAY_BRIDGE,
        "--",
        "set",
        "bridge",
        UNDERLAY_BRIDGE,
        "datapath_type=netdev",
        f"other-config:hwaddr={underlay_mac}",
        "--",
        "add-port",
        UNDERLAY_BRIDGE,
        underlay_dev,
    )
    commands = [f"ip addr del {a} dev {underlay_dev}" for a in ipv4]
    commands += [f"ip addr add {a} dev {UNDERLAY_BRIDGE}" for a in ipv4]
    commands.append(f"ip link set {UNDERLAY_BRIDGE} up")
    commands += [
        f"ip route replace {r['dst']} via {r['gateway']} dev {UNDERLAY_BRIDGE}" for r in routes
    ]
    switch.vsctl(
        "add-br",
        dev,
        "--",
        "set",
        "bridge",
        dev,
        "datapath_type=netdev",
        "fail_mode=secure",
        *[
            arg
            for t in tunnels
            for arg in (
                "--",
                "add-port",
                dev,
                t.port,
                "--",
                "set",
                "interface",
                t.port,
                "type=gre",
                f"options:remote_ip={t.remote}",
                "options:packet_type=legacy_l3",
            )
        ],
    )
    commands += [f"ip link set {dev} arp off mtu {mtu} up"]
    out = host.cmd(" && ".join(commands) + " && echo moved")
    if "moved" not in out:
        raise RuntimeError(f"GRE setup failed on {host.name}: {out.strip()}")
    mac = host.cmd(f"cat /sys/class/net/{dev}/address").strip()
    switch.vsctl("set", "bridge", dev, f"other-config:hwaddr={mac}")
    flows = [f"in_port={t.port},actions=set_field:{mac}->eth_dst,output:LOCAL" for t in tunnels]
    flows += [
        f"in_port=LOCAL,ip,nw_dst={net},actions=output:{t.port}"
        for t in tunnels
        for net in t.networks
    ]
    for flow in flows:
        switch.ofctl("add-flow", dev, flow)
    return switch


def _resolve(switch: NodeSwitch, remotes: list[str]) -> None:
    """Give the switch the MAC address of the next hop towards each remote tunnel end,
    so no first packet is lost while OVS resolves it; the entries live for an hour
    after their last use (OVS's longest)."""
    host = switch.host
    switch.appctl("tnl/neigh/aging", "3600")
    for remote in remotes:
        hop = json.loads(host.cmd(f"ip -j route get {remote}"))[0].get("gateway", remote)
        # An entry from before the peer moved its address to its own brphy is stale.
        host.cmd(f"ip neigh flush to {hop} dev {UNDERLAY_BRIDGE}; ping -c1 -W2 {hop}")
        neighbours = json.loads(host.cmd(f"ip -j neigh show {hop} dev {UNDERLAY_BRIDGE}"))
        mac = next(
            (
                n["lladdr"]
                for n in neighbours
                if "lladdr" in n and "REACHABLE" in n.get("state", [])
            ),
            None,
        )
        if mac is None:
            raise UserError(
                f"{host.name} cannot reach {hop}, the way to its GRE peer "
                f"{remote}: see {switch.dir}."
            )
        switch.appctl("tnl/neigh/set", UNDERLAY_BRIDGE, hop, mac)
