# node: pod2
"""Exercise 09, solution: load policy.c on pod2's eth0 (tc ingress) and fill its map.

The program and its map stay in the kernel after this script exits: the tc
filter holds them. `sudo taplab exercise reset 09` removes them.
"""

import ctypes
import os
from pathlib import Path

from bcc import BPF
from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

BLOCKED = range(10000, 10000 + int(os.environ.get("N", "100")))

bpf = BPF(src_file=str(Path(__file__).with_name("policy.c")))
fn = bpf.load_func("policy", BPF.SCHED_CLS)
with IPRoute() as ipr:
    index = ipr.link_lookup(ifname="eth0")[0]
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
        parent="ffff:fff2",
        classid=1,
        direct_action=True,
    )
table = bpf["blocked_ports"]
for port in BLOCKED:
    table[ctypes.c_uint16(port)] = ctypes.c_uint8(1)
print(f"policy on pod2 eth0 ingress: {len(BLOCKED)} blocked ports in one hash map")
