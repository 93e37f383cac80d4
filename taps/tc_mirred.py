"""The ``tc-mirred`` tap: tc copies every frame, a kernel thread sends the copies over VXLAN.

No user-space copy: a clsact qdisc on the interface, ingress and egress u32
filters with ``mirred egress mirror`` into one end of the tap's own veth pair;
the other end's ingress redirects the copies into a VXLAN device whose remote
is the collector. A first filter lets the VXLAN device's own packets (UDP to
the collector, fragments included) through unmirrored (the kernel has no gact,
so it is a match without actions)::

    pod1-eth0 --clsact--> mirred --> tm<tap>a ==veth== tm<tap>b --> vx<tap> --> collector:4789
                                                    (threaded NAPI)

Why the veth pair and its thread: ``copy_path``.
"""

import json

from taplab.taps import copy_path
from taplab.taps.base import Tap, tap_kind


@tap_kind
class TcMirredTap(Tap):
    kind = "tc-mirred"
    needs = ("vxlan",)
    mirrors = True

    @property
    def device(self) -> str:
        return f"vx{self.id}"

    def attach(self) -> None:
        intf, ns = self.target.intf, self.target.netns
        self.add_vxlan_device(self.device)
        near, _far = copy_path.add(self, self.device)
        copy_path.steer(self)
        self.sh("tc", "qdisc", "add", "dev", intf, "clsact")
        self.add({"kind": "qdisc", "dev": intf, "parent": "clsact", "netns": ns})
        collector = f"{self.record['collector_ip']}/32"
        own = ["match", "ip", "protocol", "17", "0xff", "match", "ip", "dst", collector]
        self._filter(intf, "egress", "1", "protocol", "ip", "u32", *own, "classid", "1:1")
        for hook in ("ingress", "egress"):
            self._filter(intf, hook, "2", *copy_path.every_frame_to("mirror", near))

    def _filter(self, dev: str, hook: str, prio: str, *spec: str) -> None:
        self.sh("tc", "filter", "add", "dev", dev, hook, "prio", prio, *spec)

    def counters(self) -> dict:
        """What tc mirrored; drops: copies lost by mirred, the veth ring or the redirect."""
        stats = self._mirred_stats(self.target.intf)
        redirect = self._mirred_stats(self.record["veth"][1])
        drops = stats["drops"] + copy_path.ring_drops(self) + redirect["drops"]
        return {**stats, "drops": drops}

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
