# node: node1
"""Exercise 08: attach tap.c to veth-pod2, both directions, and print its counters.

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
    ipr.tc(
        "add-filter",
        "bpf",
        index,
        ":1",
        fd=fn.fd,
        name=fn.name,
        parent=INGRESS,
        classid=1,
        direct_action=True,
    )
    # TODO 2: attach the same program to the egress hook (EGRESS) too: packets going
    #         to pod2 leave node1 through veth-pod2's egress.
print(f"eBPF tap on {DEV}, ingress and egress; counters: bpftool map dump name counters")
