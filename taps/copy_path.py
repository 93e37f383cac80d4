"""The way a kernel tap's copies reach its VXLAN device without reordering the
traffic they copy: the tap's own veth pair, whose far end is polled by a NAPI
thread of its own and redirects every frame into VXLAN::

    copies --> tm<tag>a ==veth== tm<tag>b --clsact ingress, mirred redirect--> vx<tap>
                                 (threaded NAPI)

Sent straight into the VXLAN device, a copy is encapsulated, fragmented and
delivered in the per-CPU backlog that also carries the tapped packets. A TCP
sender transmits from two CPUs (its process, and the softirq that takes its
ACKs); packets queued behind the copies' work fall behind those of the other
CPU, arrive out of order, and the sender retransmits. In the thread, the copies
queue in the veth's ring and are sent off the tapped path. A veth uses NAPI only
with GRO on at its receiving end and TSO off at its sending end.

A thread that fills a core (at unlimited rate) pushes the tapped sender to the
other core, and the packets it already handed to its veth wait in the first
core's backlog while later ones overtake them: a busy loop at SCHED_FIFO reorders
a flow as much, with no tap at all. A tap whose thread carries a copy of
every frame (tc-mirred) therefore steers the tapped flow: the veth end where the
tapped pod's packets enter a backlog gets receive packet steering over every CPU,
so a flow's packets queue on the one CPU its hash picks, wherever they were sent
from. The old mask comes back when the tap goes. A tap that copies only some
streams (ebpf --mirror) does not: its thread is idle while nothing is mirrored,
and steering then only costs (nginx under h2load served a quarter fewer requests
with it, and no more with every stream mirrored; taps/README.md).

    near, far = add(tap, "vx1")         # tc mirrors, or bpf_clone_redirect, into near
    steer(tap)                          # when near gets a copy of every frame
"""

import json
import os
import secrets
from pathlib import Path

from taplab.resources import write_rps
from taplab.taps.target import peer


def every_frame_to(how: str, dev: str) -> list[str]:
    """A tc u32 filter spec matching every frame, with ``mirred egress how`` into dev."""
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


def add(tap, device: str) -> tuple[str, str]:
    """The copy path of tap (a taps.base.Tap) into its VXLAN device, recorded with the
    tap (the pair as a link, the thread's pid as one of the tap's, so its CPU is the
    tap's); its (near, far) ends. The names carry a random tag, not the tap id (other
    labs have a tap1 too): the thread's name says which pair it serves."""
    tag = secrets.token_hex(3)
    tap.record["veth"] = near, far = f"tm{tag}a", f"tm{tag}b"
    tap.sh("ip", "link", "add", near, "type", "veth", "peer", "name", far)
    tap.add({"kind": "link", "name": near, "netns": tap.target.netns})
    [link] = json.loads(tap.sh("ip", "-j", "link", "show", "dev", tap.target.intf))
    for end in (near, far):  # silent (no addresses), as large an MTU as the tapped one
        tap.sh("ip", "link", "set", end, "mtu", str(link["mtu"]), "addrgenmode", "none")
        tap.sh("ip", "link", "set", end, "up")
    tap.sh("ethtool", "-K", near, "tso", "off")
    tap.sh("ethtool", "-K", far, "gro", "on")
    tap.sh("sh", "-c", f"echo 1 > /sys/class/net/{far}/threaded")
    # At normal priority: a real-time thread preempts the service at every copy, and
    # cost nginx under a mirroring monitor a third of its requests (taps/README.md).
    tap.record["pids"].append(napi_thread(far))
    tap.sh("tc", "qdisc", "add", "dev", far, "clsact")
    tap.sh(
        "tc",
        "filter",
        "add",
        "dev",
        far,
        "ingress",
        "prio",
        "1",
        *every_frame_to("redirect", device),
    )
    return near, far


def every_cpu_mask(cpus: int) -> str:
    """The CPU mask of cpus CPUs as sysfs writes it: hex, in comma-separated groups of
    32 CPUs (3 -> "7", 40 -> "ff,ffffffff")."""
    digits = f"{(1 << cpus) - 1:x}"
    groups = [digits[max(end - 8, 0) : end] for end in range(len(digits), 0, -8)]
    return ",".join(reversed(groups))


def steer(tap) -> None:
    """Receive packet steering over every CPU on the veth end where the tapped pod's
    packets enter a backlog (the target's peer, or the target when it is that end)."""
    end = peer(tap.lab, tap.target.node, tap.target.intf) or tap.target
    path = f"/sys/class/net/{end.intf}/queues/rx-0/rps_cpus"
    old = tap.lab.sh(end.node, ["cat", path]).strip()
    tap.add({"kind": "rps", "dev": end.intf, "old": old, "netns": end.netns})
    write_rps(end.intf, every_cpu_mask(os.cpu_count() or 1), end.netns)


def ring_drops(tap) -> int:
    """Copies the near end's ring had no room for."""
    [near] = json.loads(tap.sh("ip", "-s", "-j", "link", "show", "dev", tap.record["veth"][0]))
    return near.get("stats64", {}).get("tx", {}).get("dropped", 0)
