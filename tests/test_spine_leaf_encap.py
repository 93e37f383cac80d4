"""spine-leaf built with each encapsulation (``options.encap``): h1 reaches h2, the path MTU
is what that encapsulation leaves of 1500 bytes, the tunnels are where they should be."""

import ipaddress

import pytest

from taplab import ready
from taplab.errors import UserError
from taplab.lab import Lab
from taplab.topologies import registry, spine_leaf, topofile
from tests.conftest import lab_leftovers, needs, taplab

ENCAPS = {  # encap: (path MTU, features)
    "none": (1500, ("iptables",)),
    "vxlan": (1450, ("iptables", "vxlan")),
    "gre": (1476, ("iptables", "gre|ovs_user")),
    "vxlan-over-gre": (1426, ("iptables", "vxlan", "gre|ovs_user")),
}


def df_ping(node, target: str, size: int) -> bool:
    """One echo of a size-byte IP packet with DF set; True when answered."""
    return " 0% packet loss" in node.cmd(f"ping -c1 -W2 -M do -s {size - 28} {target}")


@pytest.mark.parametrize(
    "encap",
    [pytest.param(e, marks=needs(*features)) for e, (_mtu, features) in ENCAPS.items()],
)
def test_each_encap_carries_h1_to_h2_with_its_mtu(encap):
    mtu = ENCAPS[encap][0]
    with Lab("spine-leaf") as lab:
        registry.build(lab, "spine-leaf", encap=encap)
        h1, leaf1, vtep1 = lab.node("h1"), lab.node("leaf1"), lab.node("vtep1")
        h2 = lab.meta["tenants"]["h2"]
        assert lab.meta["overlay"]["type"] == encap and lab.meta["overlay"]["mtu"] == mtu
        assert ready.until(lambda: df_ping(h1, h2, 100), 10), f"h1 cannot reach h2 ({h2})"
        assert df_ping(h1, h2, mtu), f"{mtu} bytes with DF set do not cross {encap}"
        assert not df_ping(h1, h2, mtu + 1) and not df_ping(h1, h2, mtu + 1)
        far = "10.1.2.2" if "vxlan" in encap else h2  # vtep2's underlay address, or h2
        assert ("dev gre1" in leaf1.cmd(f"ip route get {far}")) == ("gre" in encap)
        assert ("vxlan id 42" in vtep1.cmd("ip -d link show vxlan42")) == ("vxlan" in encap)
        if "vxlan" in encap:  # tenants bridged in one subnet
            assert lab.meta["tenants"] == {"h1": "192.168.42.1", "h2": "192.168.42.2"}
        else:  # tenants routed, each on its /30
            assert lab.meta["tenants"] == {"h1": "192.168.42.1", "h2": "192.168.42.5"}
        if encap == "none":  # through the spine
            assert "via 10.0.1.1 " in leaf1.cmd(f"ip route get {h2}")
        lab_id = lab.id
    assert lab_leftovers(lab_id) == []


@needs("gre", "iptables")
def test_gre_variant_uses_kernel_gre_where_the_kernel_has_it():
    with Lab("spine-leaf") as lab:
        registry.build(lab, "spine-leaf", encap="gre")
        h1, h2 = lab.node("h1"), lab.meta["tenants"]["h2"]
        assert ready.until(lambda: df_ping(h1, h2, 100), 20), f"h1 cannot reach h2 ({h2})"
        assert df_ping(h1, h2, 1476) and not df_ping(h1, h2, 1477)
        assert " gre remote 10.0.2.2 local 10.0.1.2 " in lab.node("leaf1").cmd(
            "ip -d -o link show gre1"
        )
        lab_id = lab.id
    assert lab_leftovers(lab_id) == []


def test_default_is_the_homeworks_vxlan_over_gre():
    assert "encap" not in topofile.load("spine-leaf")["options"]
    assert spine_leaf.MTU["vxlan-over-gre"] == 1426


def test_bad_encap_is_one_sentence():
    spec = topofile.load("spine-leaf")
    with pytest.raises(UserError, match=r"^spine-leaf: encap must be one of vxlan-over-gre, "):
        spine_leaf.build(None, spec, encap="ipip")


def test_bad_encap_in_a_file_is_reported_with_its_line(tmp_path):
    text = topofile.named_file("spine-leaf").read_text()
    path = tmp_path / "sl.yaml"
    path.write_text(text.replace("tenant_cidr: 192.168.42.0/24}", "encap: ipip}"))
    result = taplab("topo", "check", str(path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert '"ipip" is not one of vxlan-over-gre, vxlan, gre, none' in result.stderr


def test_routed_tenants_get_a_slash_30_each():
    vteps = [{"name": "vtep1", "pods": ["h1", "h3"]}, {"name": "vtep2", "pods": ["h2"]}]
    links = spine_leaf._tenant_links(vteps, ipaddress.ip_network("10.9.0.0/28"))
    assert links == [
        {"a": "h1", "b": "vtep1", "cidr": "10.9.0.0/30"},
        {"a": "h3", "b": "vtep1", "cidr": "10.9.0.4/30"},
        {"a": "h2", "b": "vtep2", "cidr": "10.9.0.8/30"},
    ]
    with pytest.raises(UserError, match="has room for 1 routed tenants"):
        spine_leaf._tenant_links(vteps, ipaddress.ip_network("10.9.0.0/30"))


@needs("iptables")
def test_lab_encap_flag_builds_that_variant():
    result = taplab("lab", "spine-leaf", "--encap", "none", "--run", "h1 ping -c 1 -W 2 h2")
    assert result.returncode == 0, result.stderr
    assert "from 192.168.42.5" in result.stderr  # h2 routed on its own /30 (Mininet's output)
