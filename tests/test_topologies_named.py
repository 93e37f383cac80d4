"""The published lab topologies build, pass their reachability checks and leave nothing."""

import pytest

from taplab.lab import Lab
from taplab.topologies import overlays, registry
from tests.conftest import lab_leftovers, needs, taplab


@needs("iptables")
def test_netns_pair_is_pure_ipv6_l3_with_static_neighbours():
    with Lab("netns-pair") as lab:
        registry.build(lab, "netns-pair")
        ctr1, host1 = lab.node("ctr1"), lab.node("host1")
        assert " 0% packet loss" in ctr1.cmd("ping -6 -c1 -W2 fd00:2::1")
        assert "fd00:1::1/128" in ctr1.cmd("ip -6 addr show")
        assert "PERMANENT" in ctr1.cmd("ip -6 neigh show fe80::1")
        assert "fd00:2::1 via fd00:12::2" in host1.cmd("ip -6 route")
        assert "PERMANENT" in host1.cmd("ip -6 neigh show fd00:1::1")
        assert "br" not in host1.cmd("ip -br link show type bridge")
        lab_id = lab.id
    assert lab_leftovers(lab_id) == []


@needs("iptables")
@pytest.mark.parametrize("variant", ["no-match", "match-top"])
def test_bridge_policy_puts_n_rules_on_the_bridge_path(variant):
    with Lab("bridge-policy") as lab:
        registry.build(lab, "bridge-policy", rules=25, variant=variant)
        host1 = lab.node("host1")
        rules = host1.cmd("iptables -S TAPLAB-POLICY").splitlines()
        assert len([r for r in rules if r.startswith("-A")]) == 25
        assert lab.net.pingAll(timeout=2) == 0
        c2 = lab.meta["pods"]["c2"]["ip"]
        host1.cmd("iptables -Z")  # count only the ping below
        lab.node("c1").cmd(f"ping -c3 -W2 {c2}")  # bridged: c1 and c2 share host1's br0
        counts = host1.cmd("iptables -vnxL TAPLAB-POLICY").splitlines()[2:]
        packets = [int(line.split()[0]) for line in counts if line.strip()]
        assert lab.meta["policy"]["bridge_netfilter"]
        if variant == "match-top":  # all traffic stops at the first rule
            assert packets[0] >= 6 and sum(packets[1:]) == 0
        else:  # every packet walks all rules, none matches
            assert sum(packets) == 0
            fwd = host1.cmd("iptables -vnxL FORWARD").splitlines()[2]
            assert int(fwd.split()[0]) >= 6 and "TAPLAB-POLICY" in fwd
        lab_id = lab.id
    assert lab_leftovers(lab_id) == []


@needs("iptables", "vxlan", "gre|ovs_user")
def test_spine_leaf_carries_vxlan_through_gre():
    with Lab("spine-leaf") as lab:
        registry.build(lab, "spine-leaf")
        h1 = lab.node("h1")
        assert " 0% packet loss" in h1.cmd("ping -c2 -W2 192.168.42.2")
        assert " 0% packet loss" in h1.cmd("ping -c1 -W2 -M do -s 1398 192.168.42.2")
        assert " 0% packet loss" not in h1.cmd("ping -c1 -W2 -M do -s 1399 192.168.42.2")
        assert "vxlan id 42" in lab.node("vtep1").cmd("ip -d link show vxlan42")
        assert "dev gre1" in lab.node("leaf1").cmd("ip route get 10.1.2.2")
        lab_id = lab.id
    assert lab_leftovers(lab_id) == []


@needs()
def test_spine_leaf_without_gre_says_why_and_exits_2():
    from taplab import capabilities

    if capabilities.available("gre") or overlays.gre_on_ovs():
        pytest.skip("spine-leaf builds here, on kernel or Open vSwitch GRE (see the test above)")
    result = taplab("lab", "spine-leaf", "--run", "h1 ping -c1 192.168.42.2")
    assert result.returncode == 2
    assert "spine-leaf (VXLAN over GRE) is unavailable: kernel lacks GRE" in result.stderr
    assert "Traceback" not in result.stderr


@needs("iptables")
def test_named_topology_from_the_command_line_runs_checks():
    result = taplab("lab", "netns-pair", "--run", "ctr1 ping -6 -c1 -W2 fd00:2::1")
    assert result.returncode == 0, result.stdout + result.stderr
    result = taplab("lab", "bridge-policy", "--rules", "3", "--run", "pingall")
    assert result.returncode == 0, result.stdout + result.stderr
