"""The cluster topology on a real network: reachability, overlays on the wire, MTU, pods."""

import subprocess
import textwrap
from pathlib import Path

import pytest
from scapy.all import GRE, IP, UDP, VXLAN, rdpcap

from taplab.lab import Lab
from taplab.state import LABS_DIR
from taplab.topologies import overlays, registry
from taplab.topologies.cluster import add_pod
from tests.conftest import TAPLAB, lab_leftovers, needs, taplab, wait_for

MTU = {"vxlan": 1450, "host-gw": 1500, "gre": 1476}
# GRE: the kernel's, or else Open vSwitch's userspace GRE ports.
GRE_NEEDS = ("iptables", "gre|ovs_user")
OVERLAY_NEEDS = {"vxlan": ("iptables", "vxlan"), "host-gw": ("iptables",), "gre": GRE_NEEDS}


def overlay_param(kind: str, nodes: int):
    return pytest.param(kind, nodes, marks=needs(*OVERLAY_NEEDS[kind]), id=f"{kind}-{nodes}")


def tcp_answer(lab, src: str, ip: str, port: int = 8080) -> str:
    """The name the whoami backend answers with (a TCP connection from pod src)."""
    return lab.node(src).cmd(f"curl -s -m 3 http://{ip}:{port}/").strip()


@pytest.mark.parametrize(
    "overlay,nodes",
    [overlay_param("vxlan", 3), overlay_param("host-gw", 2), overlay_param("gre", 3)],
)
def test_every_pod_reaches_every_pod_by_ping_and_tcp_and_mtu_holds(overlay, nodes):
    with Lab("cluster") as lab:
        registry.build(lab, "cluster", nodes=nodes, pods=2, overlay=overlay)
        pods = lab.meta["pods"]
        assert lab.meta["overlay"]["mtu"] == MTU[overlay]
        assert lab.net.pingAll(timeout=2) == 0
        for src in pods:
            for dst, info in pods.items():
                if src != dst:
                    assert tcp_answer(lab, src, info["ip"]) == dst, (src, dst)
        far = next(p for p, i in pods.items() if i["node"] != pods["pod1"]["node"])
        payload = MTU[overlay] - 28  # IPv4 + ICMP headers
        pod1 = lab.node("pod1")
        ok = pod1.cmd(f"ping -c1 -W2 -M do -s {payload} {pods[far]['ip']}")
        assert " 0% packet loss" in ok, ok
        too_big = pod1.cmd(f"ping -c1 -W2 -M do -s {payload + 1} {pods[far]['ip']}")
        assert " 0% packet loss" not in too_big, too_big
        for node in lab.meta["k8s_nodes"]:
            assert f"mtu {MTU[overlay]}" in lab.node(node).cmd("ip link show cni0")
        lab_id = lab.id
    assert lab_leftovers(lab_id) == []


def capture(lab, node: str, expr: str, count: int, path) -> subprocess.Popen:
    proc = lab.popen(
        ["tcpdump", "-U", "-n", "-i", f"{node}-eth1", "-c", str(count), "-w", str(path), expr],
        node=node,
        log="tcpdump.log",
    )
    wait_for(
        lambda: "listening" in (lab.workdir / "tcpdump.log").read_text(),
        10,
        what="tcpdump to start",
    )
    return proc


@needs("iptables", "vxlan", "tcpdump")
def test_underlay_carries_vxlan_with_the_vni_and_pod_addresses(tmp_path):
    topo = tmp_path / "vni.yaml"
    topo.write_text(
        textwrap.dedent("""\
        name: vni-test
        kind: cluster
        overlay: {type: vxlan, vni: 77, port: 4789}
        nodes:
          - {name: node1, cidr: 10.244.1.0/24, pods: 1}
          - {name: node2, cidr: 10.244.2.0/24, pods: 1}
        """)
    )
    pcap = tmp_path / "underlay.pcap"
    with Lab("vni-test") as lab:
        registry.build(lab, str(topo))
        proc = capture(lab, "node2", "udp port 4789", 4, pcap)
        lab.node("pod1").cmd("ping -c2 -W2 10.244.2.2")
        wait_for(lambda: proc.poll() is not None, 10, what="4 VXLAN packets")
    packets = [p for p in rdpcap(str(pcap)) if VXLAN in p]
    assert len(packets) == 4
    for p in packets:
        assert p[UDP].dport == 4789 and p[VXLAN].vni == 77
        outer, inner = p[IP], p[VXLAN][IP]
        assert {outer.src, outer.dst} == {"192.168.0.1", "192.168.0.2"}
        assert {inner.src, inner.dst} == {"10.244.1.2", "10.244.2.2"}


@needs(*GRE_NEEDS, "tcpdump")
def test_underlay_carries_gre(tmp_path):
    pcap = tmp_path / "gre.pcap"
    with Lab("cluster") as lab:
        registry.build(lab, "cluster", nodes=2, pods=1, overlay="gre")
        proc = capture(lab, "node2", "ip proto 47", 2, pcap)
        lab.node("pod1").cmd("ping -c1 -W2 10.244.2.2")
        wait_for(lambda: proc.poll() is not None, 10, what="2 GRE packets")
    packets = rdpcap(str(pcap))
    assert all(p[IP].proto == 47 and GRE in p for p in packets)
    assert {packets[0][GRE][IP].src, packets[0][GRE][IP].dst} == {"10.244.1.2", "10.244.2.2"}


def switch_daemons(lab_id: str) -> list[str]:
    """The ovsdb-server and ovs-vswitchd processes of lab_id's nodes."""
    out = subprocess.run(
        ["pgrep", "-af", f"{LABS_DIR / lab_id}/ovs-"], capture_output=True, text=True
    ).stdout
    daemons = ("ovsdb-server", "ovs-vswitchd")  # not the ovs-vsctl commands that set them up
    return [line for line in out.splitlines() if Path(line.split()[1]).name in daemons]


@needs(*GRE_NEEDS)
def test_gre_on_ovs_switch_daemons_go_with_a_killed_lab():
    if not overlays.gre_on_ovs():
        pytest.skip("the kernel has GRE: the cluster does not fall back to Open vSwitch")
    before = set(LABS_DIR.glob("*.json"))
    proc = subprocess.Popen(
        [
            *TAPLAB,
            "lab",
            "cluster",
            "--overlay",
            "gre",
            "--nodes",
            "2",
            "--pods",
            "1",
            "--run",
            "sh sleep 600",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        state = wait_for(lambda: set(LABS_DIR.glob("*.json")) - before, 30, what="the lab")
        lab_id = state.pop().stem
        wait_for(lambda: len(switch_daemons(lab_id)) == 4, 30, what="two daemons per node")
    finally:
        proc.kill()
        proc.wait()
    assert taplab("clean").returncode == 0
    assert switch_daemons(lab_id) == [] and lab_leftovers(lab_id) == []


@needs("iptables", "vxlan")
def test_services_answer_and_spread_over_endpoints():
    with Lab("cluster") as lab:
        registry.build(lab, "cluster")  # web: ClusterIP 10.96.0.10, web-nodeport: 30080
        pods = set(lab.meta["pods"])
        cluster_ip = {tcp_answer(lab, "pod1", "10.96.0.10", 80) for _ in range(20)}
        node1 = lab.meta["k8s_nodes"]["node1"]["underlay_ip"]
        node_port = {
            lab.node("node2").cmd(f"curl -s -m3 http://{node1}:30080/").strip() for _ in range(20)
        }
        from_pod = {tcp_answer(lab, "pod4", node1, 30080) for _ in range(10)}
    assert cluster_ip <= pods and len(cluster_ip) > 1, cluster_ip
    assert node_port <= pods and len(node_port) > 1, node_port
    assert from_pod <= pods and from_pod, from_pod


@needs("iptables", "vxlan")
def test_a_pod_added_after_the_build_is_reachable():
    with Lab("cluster") as lab:
        registry.build(lab, "cluster", nodes=2, pods=1)
        attacker = add_pod(lab, "node2", "attacker")
        ip = lab.meta["pods"]["attacker"]["ip"]
        assert ip == "10.244.2.3" and attacker.IP() == ip
        assert " 0% packet loss" in lab.node("pod1").cmd(f"ping -c1 -W2 {ip}")
        assert "mtu 1450" in attacker.cmd("ip link show attacker-eth0")


@needs("iptables", "vxlan", "ovs_user")
def test_ovs_switches_carry_the_same_cluster():
    with Lab("cluster") as lab:
        registry.build(lab, "cluster", nodes=2, pods=1, switch="ovs")
        bridges = subprocess.run(
            ["ovs-vsctl", "list-br"], capture_output=True, text=True
        ).stdout.split()
        assert {lab.root_name("ul"), lab.root_name("c1"), lab.root_name("c2")} <= set(bridges)
        assert lab.net.pingAll(timeout=2) == 0
        assert tcp_answer(lab, "pod1", "10.244.2.2") == "pod2"
        lab_id = lab.id
    assert lab_leftovers(lab_id) == []


@needs("iptables", "vxlan")
def test_a_cluster_file_builds_its_extra_links_and_services(tmp_path):
    topo = tmp_path / "extra.yaml"
    topo.write_text(
        textwrap.dedent("""\
        name: extra
        kind: cluster
        overlay: {type: host-gw}
        nodes:
          - {name: worker1, pods: [web, db]}
          - {name: worker2, pods: [client]}
        links:
          - {a: db, b: client, cidr: 10.99.0.0/30}
        services:
          - {name: api, ip: 10.96.5.5, port: 80, target_port: 9000, endpoints: [web]}
        """)
    )
    with Lab("extra") as lab:
        registry.build(lab, str(topo))
        assert lab.meta["k8s_nodes"]["worker2"]["cidr"] == "10.244.2.0/24"
        assert " 0% packet loss" in lab.node("db").cmd("ping -c1 -W2 10.99.0.2")
        assert tcp_answer(lab, "client", "10.96.5.5", 80) == "web"


@needs()  # the command checks for root first
def test_a_default_pod_cidr_overlapping_a_given_one_is_a_user_error(tmp_path):
    topo = tmp_path / "clash.yaml"
    topo.write_text(
        "name: clash\nkind: cluster\nnodes:\n  - {name: a}\n  - {name: b, cidr: 10.244.1.0/24}\n"
    )
    result = taplab("lab", str(topo), "--run", "pingall")
    assert result.returncode == 2
    assert "nodes[1].cidr: 10.244.1.0/24 overlaps nodes[0].cidr" in result.stderr
