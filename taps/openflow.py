"""The ``openflow`` tap: the controller mirrors a pod's traffic on OVS to a mirror port.

The pod's port on an OVS switch is found from its veth; a new veth joins that
switch (``<lab>m<n>``, in the root namespace) to the collector node
(``mirror<n>``). Two lambda-server ``Mirror`` actions (``src`` = the pod, and
``dst`` = the pod) make the controller install flows that copy the pod's IPv4
traffic to that port. The tap counts what arrives on the collector's end::

    pod1 ==veth== [<lab>c1 OVS] --(mirror flows)--> <lab>m3 ==veth== mirror3 (collector)

The port is marked no-flood so that the learning switch's floods stay off it.
Counters are the mirror flows' own (what the switch copied); ``delivered`` is
what arrived at the collector's end.

Needs a lab with OVS switches and the lambda server (``--switch ovs``).
"""

import json
import re

from taplab.controllers.api_client import ControllerClient
from taplab.errors import UserError
from taplab.measure import node_ip
from taplab.shell import run, succeeds
from taplab.taps.base import Tap, tap_kind
from taplab.taps.target import netns_named

STATS = ("rx_packets", "rx_bytes", "rx_dropped")


def ovs_port_of(lab, node: str, intf: str) -> tuple[str, str]:
    """(OVS bridge, port) that the veth intf of node is plugged into: its peer in the
    root namespace, matched by index and by the namespace the peer points back to."""
    mine = next(x for x in json.loads(lab.sh(node, ["ip", "-j", "link", "show", intf])))
    for link in json.loads(run(["ip", "-j", "link", "show"])):
        if (
            link["ifindex"] == mine.get("link_index")
            and link.get("link_index") == mine["ifindex"]
            and "link_netnsid" in link
            and netns_named(lab, None, link["link_netnsid"]) == lab.netns(node)
        ):
            bridge = run(
                ["ovs-vsctl", "--timeout=10", "port-to-br", link["ifname"]], check=False
            ).strip()
            if bridge and "no port named" not in bridge:
                return bridge, link["ifname"]
    raise UserError(
        f"{node}:{intf} is not plugged into an OVS switch: the openflow tap "
        "needs a lab with --switch ovs."
    )


@tap_kind
class OpenflowTap(Tap):
    kind = "openflow"
    needs = ("ovs_user",)

    @property
    def ports(self) -> tuple[str, str]:
        n = self.id.removeprefix("tap")
        return self.lab.root_name(f"m{n}"), f"mirror{n}"

    def attach(self) -> None:
        if not self.lab.has_lambda_server:
            raise UserError(
                "the openflow tap asks the lab's controller for mirror flows: "
                "start the lab with --switch ovs (and the default controller apps)."
            )
        collector = self.record["mirror_to"]
        if not collector:
            raise UserError(
                "the openflow tap needs a node for the mirror port: name it with --collector NODE."
            )
        bridge, _port = ovs_port_of(self.lab, self.target.node, self.target.intf)
        root_end, node_end = self.ports
        run(
            [
                "ip",
                "link",
                "add",
                root_end,
                "type",
                "veth",
                "peer",
                "name",
                node_end,
                "netns",
                self.lab.netns(collector),
            ]
        )
        self.add({"kind": "link", "name": root_end})
        run(["ip", "link", "set", root_end, "up"])
        self.lab.sh(collector, ["ip", "link", "set", node_end, "up"])
        run(["ovs-vsctl", "--timeout=10", "add-port", bridge, root_end])
        run(["ovs-ofctl", "-O", "OpenFlow13", "mod-port", bridge, root_end, "no-flood"])
        self.record.update(bridge=bridge, mirror_node=collector)
        ofport = int(
            run(["ovs-vsctl", "--timeout=10", "get", "interface", root_end, "ofport"]).strip()
        )
        pod = node_ip(self.lab, self.target.node)
        client = ControllerClient.for_lab(self.lab)
        for side in ("src", "dst"):
            client.apply({"type": "Mirror", "to_port": ofport, side: pod})
        self.record["ofport"] = ofport

    def detach(self) -> None:
        bridge, (root_end, _) = self.record.get("bridge"), self.ports
        if bridge and "ofport" in self.record and succeeds(["ovs-vsctl", "br-exists", bridge]):
            run(
                [
                    "ovs-ofctl",
                    "-O",
                    "OpenFlow13",
                    "del-flows",
                    bridge,
                    f"out_port={self.record['ofport']}",
                ],
                check=False,
            )
        if bridge:
            run(
                ["ovs-vsctl", "--timeout=10", "--if-exists", "del-port", bridge, root_end],
                check=False,
            )
        super().detach()

    def counters(self) -> dict:
        flows = run(
            [
                "ovs-ofctl",
                "-O",
                "OpenFlow13",
                "dump-flows",
                self.record["bridge"],
                f"out_port={self.record['ofport']}",
            ],
            check=False,
        )
        packets = sum(int(m) for m in re.findall(r"n_packets=(\d+)", flows))
        nbytes = sum(int(m) for m in re.findall(r"n_bytes=(\d+)", flows))
        path = f"/sys/class/net/{self.ports[1]}/statistics"
        out = self.lab.sh(
            self.record["mirror_node"], ["cat", *(f"{path}/{s}" for s in STATS)], check=False
        ).split()
        delivered = dict(zip(STATS, map(int, out), strict=True)) if len(out) == 3 else {}
        return {
            "packets": packets,
            "bytes": nbytes,
            "drops": delivered.get("rx_dropped", 0),
            "delivered": delivered.get("rx_packets", 0),
        }
