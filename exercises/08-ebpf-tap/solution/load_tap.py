# node: node1
"""Exercise 08, solution: attach tap.c to veth-pod2, both directions, and print its counters.

The program stays attached after this script exits (the tc filters hold it);
`sudo taplab exercise reset 08` removes it.
"""

from pathlib import Path

from bcc import BPF
from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

DEV = "veth-pod2"
INGRESS, EGRESS = "ffff:fff2", "ffff:fff3"  # clsact's two hooks

bpf = BPF(src_file=str(Path(__file__).with_name("tap.c")))
fn = bpf.load_func("tap", BPF.SCHED_CLS)
with IPRoute() as ipr:
    index = ipr.link_lookup(ifname=DEV)[0]
    try:
        ipr.tc("del", "clsact", index)
    except NetlinkError:
        pass  # there was none
    ipr.tc("add", "clsact", index)
    for parent in (INGRESS, EGRESS):
        ipr.tc(
            "add-filter",
            "bpf",
            index,
            ":1",
            fd=fn.fd,
            name=fn.name,
            parent=parent,
            classid=1,
            direct_action=True,
        )
print(f"eBPF tap on {DEV}, ingress and egress; counters: bpftool map dump name counters")
