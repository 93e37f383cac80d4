"""Topology files: the named ones check, bad ones give one clear error and exit 2."""

import ipaddress
import os
import textwrap

import pytest

from taplab.errors import UserError
from taplab.topologies import routed, services, topofile, topograph
from tests.conftest import needs, taplab

GOOD = """\
name: t
kind: cluster
nodes:
  - {name: node1, cidr: 10.244.1.0/24, pods: 2}
  - {name: node2, cidr: 10.244.2.0/24, pods: [web]}
"""

BAD = {
    "unknown field": (GOOD + "colour: blue\n", "colour: unknown field"),
    "duplicate name": (GOOD + "  - {name: node1, cidr: 10.244.3.0/24}\n",
                       "nodes: duplicate name 'node1'"),
    "overlapping CIDRs": (GOOD.replace("10.244.2.0/24", "10.244.0.0/16"),
                          "nodes[1].cidr: 10.244.0.0/16 overlaps nodes[0].cidr"),
    "link to a missing node": (GOOD + "links:\n  - {a: node1, b: nodeX}\n",
                               "links[0].b: link to missing node 'nodeX'"),
}


def write(tmp_path, text: str, name: str = "topo.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.parametrize("name", topofile.names())
def test_every_named_topology_is_a_valid_file(name):
    spec = topofile.load(name)
    assert spec["name"] == name
    g = topograph.graph(spec)
    pods = [p for n in spec["nodes"] for p in n["pods"]]
    assert set(pods) <= set(g) and {n["name"] for n in spec["nodes"]} <= set(g)


def test_pod_counts_are_numbered_across_nodes(tmp_path):
    spec = topofile.load(str(write(tmp_path, GOOD)))
    assert [n["pods"] for n in spec["nodes"]] == [["pod1", "pod2"], ["web"]]


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_file_is_one_error_naming_file_and_field(tmp_path, case):
    text, expected = BAD[case]
    path = write(tmp_path, text)
    with pytest.raises(UserError) as err:
        topofile.load(str(path))
    assert str(err.value).startswith(f"{path}: ") and expected in str(err.value)
    result = taplab("topo", "check", str(path))
    assert result.returncode == 2
    assert expected in result.stderr and "Traceback" not in result.stderr


@needs("iptables")
@pytest.mark.parametrize("case", sorted(BAD))
def test_lab_with_a_bad_file_exits_2_and_never_creates_a_lab(tmp_path, case):
    path = write(tmp_path, BAD[case][0])
    run_dir = tmp_path / "run"  # a lab would leave at least its lock file here
    result = taplab("lab", str(path), "--run", "pingall",
                    env={**os.environ, "TAPLAB_RUN_DIR": str(run_dir)})
    assert result.returncode == 2, result.stderr
    assert BAD[case][1] in result.stderr
    assert not list((run_dir / "labs").glob("*")) if (run_dir / "labs").exists() else True


def test_service_fields_are_checked(tmp_path):
    text = GOOD + "services:\n  - {name: s, type: NodePort, ip: 10.96.0.1, port: 80}\n"
    result = taplab("topo", "check", str(write(tmp_path, text)))
    assert result.returncode == 2
    assert "services[0].node_port: a NodePort service needs a node_port" in result.stderr


def test_topo_show_prints_a_tree_and_writes_a_png(tmp_path):
    png = tmp_path / "c.png"
    result = taplab("topo", "show", "cluster", "--png", str(png))
    assert result.returncode == 0, result.stderr
    assert "node1" in result.stdout and "pod4" in result.stdout and "web" in result.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_topo_list_names_every_topology():
    result = taplab("topo", "list")
    for name in ("cluster", "spine-leaf", "netns-pair", "bridge-policy"):
        assert name in result.stdout


def test_kube_proxy_rules_spread_evenly_over_endpoints():
    svc = {"name": "web", "type": "NodePort", "ip": "10.96.0.10", "port": 80,
           "target_port": 8080, "node_port": 30080, "protocol": "tcp",
           "endpoints": ["pod1", "pod2", "pod3"]}
    pods = {"pod1": {"ip": "10.244.1.2"}, "pod2": {"ip": "10.244.2.2"},
            "pod3": {"ip": "10.244.2.3"}}
    text = services.ruleset([svc], pods, "10.244.1.0/24")
    probabilities = [float(line.split("--probability ")[1].split()[0])
                     for line in text.splitlines() if "statistic" in line]
    assert probabilities == pytest.approx([1 / 3, 1 / 2], abs=1e-4)
    assert "-A KUBE-SEP-WEB-1 -s 10.244.1.0/24 -j KUBE-MARK-MASQ" in text  # same-node hairpin
    assert "KUBE-SEP-WEB-2 -s" not in text
    assert "-A KUBE-NODEPORTS -p tcp --dport 30080 -j KUBE-SVC-WEB" in text


def test_static_routes_follow_shortest_paths():
    spec = topofile.load("spine-leaf")
    ports = {}
    for link in spec["links"]:
        net = ipaddress.ip_network(link["cidr"])
        ports.setdefault(link["a"], {})[link["b"]] = (str(net.network_address + 1), 24, "x")
        ports.setdefault(link["b"], {})[link["a"]] = (str(net.network_address + 2), 24, "x")
    nets = {n: [k["cidr"] for k in spec["links"] if n in (k["a"], k["b"])] for n in ports}
    routes = routed.static_routes(spec["links"], routed.Addressed(ports, nets))
    assert ("10.1.2.0/24", "10.0.1.1") in routes["leaf1"]  # via spine1
    assert ("10.0.2.0/24", "10.1.1.1") in routes["vtep1"]  # via leaf1
