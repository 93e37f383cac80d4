"""Every tap kind on a pod of the second node counts that pod's traffic and no other's.

Interface indexes are per namespace (node1 and node2 both have an index 4): a tap
resolved by index in the wrong namespace would count another pod's traffic.
"""

import pytest

from taplab.lab import Lab
from taplab.taps import session
from taplab.topologies import registry
from tests.conftest import needs, wait_for
from tests.tap_helpers import quiet

pytestmark = needs("vxlan", "tcpdump")

PINGS = 8

KINDS = [
    pytest.param("sidecar", id="sidecar"),
    pytest.param("tc-mirred", id="tc-mirred"),
    pytest.param("ebpf", id="ebpf", marks=needs("bcc", "tc_bpf")),
    pytest.param("xdp-flowtable", id="xdp-flowtable", marks=needs("bcc", "xdp")),
    pytest.param("pcap", id="pcap"),
]


def ping(lab, src: str, dst: str, count: int = PINGS) -> None:
    """count pings from pod src to pod dst, all answered."""
    ip = lab.meta["pods"][dst]["ip"]
    lab.sh(src, ["ping", "-q", "-c", str(count), "-i", "0.05", "-W", "2", ip])


def expected_packets(lab, tap_id: str) -> int:
    """What PINGS answered pings cross a tap that sees both directions or one."""
    sees = session.kinds()[session.get(lab, tap_id)["kind"]].sees
    return PINGS * (2 if sees == "both" else 1)


def settle(lab) -> None:
    """No chatter during a count: IPv6 and multicast off (no router solicitations, MLD or
    IGMP reports), every pod and its gateway permanent neighbours (no ARP)."""
    for node in lab.meta["nodes"]:
        lab.sh(node, ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"])
    for pod, info in lab.meta["pods"].items():
        gateway = lab.meta["k8s_nodes"][info["node"]]["gateway"]
        intf, mac = f"{pod}-eth0", mac_of(lab, pod, f"{pod}-eth0")
        lab.sh(pod, ["ip", "link", "set", intf, "multicast", "off"])
        lab.sh(
            pod,
            [
                "ip",
                "neigh",
                "replace",
                gateway,
                "lladdr",
                mac_of(lab, info["node"], "cni0"),
                "dev",
                intf,
                "nud",
                "permanent",
            ],
        )
        lab.sh(
            info["node"],
            [
                "ip",
                "neigh",
                "replace",
                info["ip"],
                "lladdr",
                mac,
                "dev",
                "cni0",
                "nud",
                "permanent",
            ],
        )
    for node in lab.meta["k8s_nodes"]:
        lab.sh(node, ["ip", "link", "set", "cni0", "multicast", "off"])


def mac_of(lab, node: str, intf: str) -> str:
    return lab.sh(node, ["cat", f"/sys/class/net/{intf}/address"]).strip()


def assert_counts_pod3_only(lab, tap_id: str) -> None:
    """Pings between other pods (both nodes) leave the tap's count alone; PINGS pings
    from pod2 to pod3 add PINGS packets each way the tap sees."""
    expected = expected_packets(lab, tap_id)
    before = quiet(lab, tap_id)["packets"]
    for src, dst in [("pod1", "pod2"), ("pod4", "pod1")]:
        ping(lab, src, dst, count=3 * PINGS)
    others = quiet(lab, tap_id)["packets"] - before
    ping(lab, "pod2", "pod3")
    wait_for(
        lambda: session.stats(lab, tap_id)["packets"] - before - others >= expected,
        timeout=20,
        what="the tap to count the pings",
    )
    assert (others, quiet(lab, tap_id)["packets"] - before - others) == (0, expected)


@pytest.fixture(scope="module")
def lab():
    with Lab("tap-node2") as lab:
        registry.build(lab, "cluster", nodes=2, pods=2)
        settle(lab)
        yield lab


@pytest.mark.parametrize("kind", KINDS)
def test_a_tap_on_a_second_node_pod_counts_that_pod_only(lab, kind):
    record = session.attach(lab, "pod3", kind, collector="pod2")
    try:
        if kind in ("ebpf", "xdp-flowtable"):  # the host side of pod3's veth, on node2
            assert record["target"]["node"] == "node2", record["target"]
            assert record["target"]["netns"] == lab.netns("node2")
        assert_counts_pod3_only(lab, record["id"])
    finally:
        session.detach(lab, record["id"])


@needs("ovs_user")
def test_an_openflow_tap_on_a_second_node_pod_counts_that_pod_only():
    with Lab("tap-node2-ovs", controller_apps=[]) as lab:
        registry.build(lab, "cluster", nodes=2, pods=2, switch="ovs")
        settle(lab)
        record = session.attach(lab, "pod3", "openflow", collector="pod4")
        try:
            assert record["bridge"] == lab.root_name("c2"), record["bridge"]
            assert_counts_pod3_only(lab, record["id"])
        finally:
            session.detach(lab, record["id"])
