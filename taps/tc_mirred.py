"""The ``tc-mirred`` tap: tc copies every frame into a kernel VXLAN device.

No user-space copy: a clsact qdisc on the interface, ingress and egress u32
filters with ``mirred egress mirror`` into a VXLAN device whose remote is the
collector. A first filter lets the VXLAN device's own packets (UDP to the
collector, fragments included) through unmirrored (the kernel has no gact, so
it is a match without actions)::

    pod1-eth0 --clsact--> mirred --> vx<tap> (VNI, remote collector:4789)
"""

import json

from taplab.taps.base import Tap, tap_kind

_ALL = ["protocol", "all", "u32", "match", "u32", "0", "0"]


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
        self.sh("tc", "qdisc", "add", "dev", intf, "clsact")
        self.add({"kind": "qdisc", "dev": intf, "parent": "clsact", "netns": ns})
        collector = f"{self.record['collector_ip']}/32"
        own = ["match", "ip", "protocol", "17", "0xff", "match", "ip", "dst", collector]
        self._filter("egress", "1", "protocol", "ip", "u32", *own, "classid", "1:1")
        for hook in ("ingress", "egress"):
            self._filter(
                hook, "2", *_ALL, "action", "mirred", "egress", "mirror", "dev", self.device
            )

    def _filter(self, hook: str, prio: str, *spec: str) -> None:
        self.sh("tc", "filter", "add", "dev", self.target.intf, hook, "prio", prio, *spec)

    def counters(self) -> dict:
        # u32 hash tables are per qdisc, so each hook's listing shows both mirred
        # filters: count every action once, by its index.
        actions = {}
        for hook in ("ingress", "egress"):
            out = self.sh("tc", "-s", "-j", "filter", "show", "dev", self.target.intf, hook)
            for flt in json.loads(out or "[]"):
                for action in flt.get("options", {}).get("actions", []):
                    if action.get("kind") == "mirred":
                        actions[action["index"]] = action["stats"]
        return {
            key: sum(stats.get(key, 0) for stats in actions.values())
            for key in ("packets", "bytes", "drops")
        }
