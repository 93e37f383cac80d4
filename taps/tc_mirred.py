"""The ``tc-mirred`` tap: tc copies every frame, a kernel thread sends the copies over VXLAN.

No user-space copy: a clsact qdisc on the interface, ingress and egress u32
filters with ``mirred egress mirror`` into one end of the tap's own veth pair;
the other end's ingress redirects the copies into a VXLAN device whose remote
is the collector. A first filter lets the VXLAN device's own packets (UDP to
the collector, fragments included) through unmirrored (the kernel has no gact,
so it is a match without actions)::

    pod1-eth0 --clsact--> mirred --> tm<tap>a ==veth== tm<tap>b --> vx<tap> --> collector:4789
                                                    (threaded NAPI)

Why the veth pair: copies sent straight into the VXLAN device are encapsulated,
fragmented and delivered in the per-CPU backlog that also carries the pod's own
packets. A TCP sender transmits from two CPUs (its process, and the softirq that
takes its ACKs); with the copies' work in one CPU's backlog, the packets queued
there fall behind the other CPU's, the receiver sees them out of order and the
sender retransmits (hundreds per second at 100 Mb/s). The veth's far end runs
in NAPI mode (GRO on, which is what makes a veth use NAPI) with a thread of its
own: the copies queue in its ring and are sent from that thread, off the pod's path.
"""

import json
import secrets
from pathlib import Path

from taplab.shell import run
from taplab.taps.base import Tap, tap_kind


def _every_frame_to(how: str, dev: str) -> list[str]:
    """A u32 filter spec matching every frame, with ``mirred egress how`` into dev."""
    return "protocol all u32 match u32 0 0 action mirred egress".split() + [how, "dev", dev]


def napi_thread(dev: str, proc: Path = Path("/proc")) -> int:
    """The pid of the NAPI thread of dev (named ``napi/DEV-ID``, cut at 15 characters)."""
    prefix = f"napi/{dev}-"[:15]
    for comm in proc.glob("[0-9]*/comm"):
        try:
            if comm.read_text().startswith(prefix):
                return int(comm.parent.name)
        except OSError:
            continue
    raise LookupError(f"{dev} has no NAPI thread")


@tap_kind
class TcMirredTap(Tap):
    kind = "tc-mirred"
    needs = ("vxlan",)
    mirrors = True

    @property
    def device(self) -> str:
        return f"vx{self.id}"

    @property
    def pair(self) -> tuple[str, str]:
        """The tap's veth pair: tc mirrors into the first, the second sends to VXLAN."""
        return self.record["veth"]

    def attach(self) -> None:
        intf, ns = self.target.intf, self.target.netns
        self.add_vxlan_device(self.device)
        self._add_pair()
        (near, far), vx = self.pair, self.device
        self.sh("tc", "qdisc", "add", "dev", far, "clsact")
        self._filter(far, "ingress", "1", *_every_frame_to("redirect", vx))
        self.sh("tc", "qdisc", "add", "dev", intf, "clsact")
        self.add({"kind": "qdisc", "dev": intf, "parent": "clsact", "netns": ns})
        collector = f"{self.record['collector_ip']}/32"
        own = ["match", "ip", "protocol", "17", "0xff", "match", "ip", "dst", collector]
        self._filter(intf, "egress", "1", "protocol", "ip", "u32", *own, "classid", "1:1")
        for hook in ("ingress", "egress"):
            self._filter(intf, hook, "2", *_every_frame_to("mirror", near))

    def _add_pair(self) -> None:
        """The veth pair, silent (no addresses of its own), as large an MTU as the
        interface's, the far end polled by its own NAPI thread at real-time priority
        (as the softirq it stands in for would run). The names carry a random tag, not
        the tap id (other labs have a tap1 too): the thread's name says which it is."""
        tag = secrets.token_hex(3)
        self.record["veth"] = near, far = f"tm{tag}a", f"tm{tag}b"
        self.sh("ip", "link", "add", near, "type", "veth", "peer", "name", far)
        self.add({"kind": "link", "name": near, "netns": self.target.netns})
        [link] = json.loads(self.sh("ip", "-j", "link", "show", "dev", self.target.intf))
        for end in self.pair:
            self.sh("ip", "link", "set", end, "mtu", str(link["mtu"]), "addrgenmode", "none")
            self.sh("ip", "link", "set", end, "up")
        # Copies are only eligible for the veth's NAPI ring when the near end has no TSO.
        self.sh("ethtool", "-K", near, "tso", "off")
        self.sh("ethtool", "-K", far, "gro", "on")
        self.sh("sh", "-c", f"echo 1 > /sys/class/net/{far}/threaded")
        pid = napi_thread(far)
        run(["chrt", "--fifo", "--pid", "10", str(pid)])
        self.record["pids"].append(pid)  # its CPU is the tap's

    def _filter(self, dev: str, hook: str, prio: str, *spec: str) -> None:
        self.sh("tc", "filter", "add", "dev", dev, hook, "prio", prio, *spec)

    def counters(self) -> dict:
        """What tc mirrored; drops: copies lost by mirred, the veth ring or the redirect."""
        stats = self._mirred_stats(self.target.intf)
        redirect = self._mirred_stats(self.pair[1])
        near = json.loads(self.sh("ip", "-s", "-j", "link", "show", "dev", self.pair[0]))[0]
        ring = near.get("stats64", {}).get("tx", {}).get("dropped", 0)
        return {**stats, "drops": stats["drops"] + ring + redirect["drops"]}

    def _mirred_stats(self, dev: str) -> dict:
        # u32 hash tables are per qdisc, so each hook's listing shows every mirred
        # filter of the device: count every action once, by its index.
        actions = {}
        for hook in ("ingress", "egress"):
            out = self.sh("tc", "-s", "-j", "filter", "show", "dev", dev, hook)
            for flt in json.loads(out or "[]"):
                for action in flt.get("options", {}).get("actions", []):
                    if action.get("kind") == "mirred":
                        actions[action["index"]] = action["stats"]
        return {
            key: sum(stats.get(key, 0) for stats in actions.values())
            for key in ("packets", "bytes", "drops")
        }
