"""The openflow tap: the controller's mirror flows copy a pod's traffic to a mirror port."""

import subprocess

import pytest

from taplab.errors import UserError
from taplab.lab import Lab
from taplab.taps import session
from taplab.topologies import registry
from tests.conftest import needs, wait_for
from tests.tap_helpers import burst

pytestmark = needs("ovs_user")

BURST = 200


@pytest.fixture
def lab():
    with Lab("tap-openflow", controller_apps=[]) as lab:
        registry.build(lab, "cluster", pods=3, switch="ovs")
        yield lab


def mirror_flows(bridge: str, ofport: int) -> str:
    out = subprocess.run(
        ["ovs-ofctl", "-O", "OpenFlow13", "dump-flows", bridge, f"out_port={ofport}"],
        capture_output=True,
        text=True,
    ).stdout
    return "".join(line for line in out.splitlines() if "priority=" in line)


def test_mirror_flows_count_a_burst_exactly_and_go_away(lab):
    record = session.attach(lab, "pod1", "openflow", collector="pod3")
    bridge, ofport = record["bridge"], record["ofport"]
    root_end = lab.root_name(f"m{record['id'].removeprefix('tap')}")
    try:
        assert "nw_src=10.244.1.2" in mirror_flows(bridge, ofport)
        burst(lab, BURST, node="pod1", src="10.244.1.2")
        stats = wait_for(
            lambda: (s := session.stats(lab, record["id"]))["packets"] >= BURST and s,
            timeout=20,
            what="the mirror flows to count the burst",
        )
        assert stats["packets"] == BURST
        assert stats["delivered"] >= BURST  # copies reached the collector's end
    finally:
        session.detach(lab, record["id"])
    assert mirror_flows(bridge, ofport) == ""
    ports = subprocess.run(["ovs-vsctl", "list-ports", bridge], capture_output=True, text=True)
    assert root_end not in ports.stdout.split()
    link = subprocess.run(["ip", "link", "show", root_end], capture_output=True)
    assert link.returncode != 0


def test_openflow_tap_without_a_controller_is_one_sentence():
    with Lab("tap-openflow-nocontroller") as lab:
        registry.build(lab, "cluster", pods=2)
        with pytest.raises(UserError) as err:
            session.attach(lab, "pod1", "openflow", collector="pod2")
        assert "start the lab with --switch ovs" in str(err.value)
        assert not lab.meta.get("taps")
