"""taplab.measure's interface helpers on a real veth pair between two namespaces."""

import os
import subprocess

import pytest

from taplab.measure import interfaces, intf_counters, offloads_off
from taplab.shell import run
from tests.conftest import needs


class Nodes:
    """A lab whose nodes are named network namespaces (all these helpers need is sh)."""

    def sh(self, node: str, argv: list[str]) -> str:
        return run(argv, netns=node)


@pytest.fixture
def pair():
    a, b = (f"unify-measure-{os.getpid()}-{side}" for side in "ab")
    for ns in (a, b):
        subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        run(["ip", "link", "add", "va", "netns", a, "type", "veth", "peer", "vb", "netns", b])
        for ns, dev, ip in ((a, "va", "10.9.9.1/24"), (b, "vb", "10.9.9.2/24")):
            run(["ip", "addr", "add", ip, "dev", dev], netns=ns)
            run(["ip", "link", "set", dev, "up"], netns=ns)
            run(["ip", "link", "set", "lo", "up"], netns=ns)
        yield a, b
    finally:
        for ns in (a, b):
            subprocess.run(["ip", "netns", "delete", ns], check=True)


@needs()
def test_counters_count_what_crossed_the_veth_and_leave_lo_out(pair):
    a, _b = pair
    lab = Nodes()
    assert interfaces(lab, a) == ["va"]
    run(["ping", "-c", "3", "-W", "1", "127.0.0.1"], netns=a)  # lo traffic is not counted
    before = intf_counters(lab, a)
    run(["ping", "-c", "5", "-i", "0.2", "-W", "1", "10.9.9.2"], netns=a)
    after = intf_counters(lab, a)
    assert after == intf_counters(lab, a, "va")
    assert after["tx_packets"] - before["tx_packets"] >= 5
    assert after["rx_packets"] - before["rx_packets"] >= 5
    assert after["tx_bytes"] - before["tx_bytes"] >= 5 * 98  # ICMP echo frames of 98 bytes


@needs()
def test_offloads_off_turns_off_segmentation_and_receive_offload(pair):
    a, _b = pair
    offloads_off(Nodes(), a)
    features = run(["ethtool", "-k", "va"], netns=a)
    for feature in (
        "tcp-segmentation-offload",
        "generic-segmentation-offload",
        "generic-receive-offload",
    ):
        assert f"{feature}: off" in features
