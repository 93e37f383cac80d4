"""Attaching a loaded eBPF program (bcc's ``BPF.SCHED_CLS``) to an interface's clsact
hooks with pyroute2, in direct-action mode::

    with IPRoute() as ipr:
        index = ipr.link_lookup(ifname="veth-pod2")[0]
        for hook in (INGRESS, EGRESS):
            attach(ipr, index, fn, hook)
"""

INGRESS, EGRESS = "ffff:fff2", "ffff:fff3"  # clsact's two hooks


def attach(ipr, index: int, fn, hook: str = INGRESS, **options) -> None:
    """Add fn as a bpf filter on hook of interface index (options: prio)."""
    ipr.tc(
        "add-filter",
        "bpf",
        index,
        ":1",
        fd=fn.fd,
        name=fn.name,
        parent=hook,
        classid=1,
        direct_action=True,
        **options,
    )
