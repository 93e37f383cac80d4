"""Topology files: the named ones check, bad ones give one clear error and exit 2."""

import ipaddress
import json
import os
import textwrap

import jsonschema
import pytest
import yaml

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
    "unknown field": (GOOD + "colour: blue\n", "line 6: colour: unknown field"),
    "duplicate name": (
        GOOD + "  - {name: node1, cidr: 10.244.3.0/24}\n",
        "nodes: duplicate name 'node1'",
    ),
    "overlapping CIDRs": (
        GOOD.replace("10.244.2.0/24", "10.244.0.0/16"),
        "nodes[1].cidr: 10.244.0.0/16 overlaps nodes[0].cidr",
    ),
    "link to a missing node": (
        GOOD + "links:\n  - {a: node1, b: nodex}\n",
        "line 7: links[0].b: link to missing node 'nodex'",
    ),
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
    result = taplab(
        "lab", str(path), "--run", "pingall", env={**os.environ, "TAPLAB_RUN_DIR": str(run_dir)}
    )
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
    svc = {
        "name": "web",
        "type": "NodePort",
        "ip": "10.96.0.10",
        "port": 80,
        "target_port": 8080,
        "node_port": 30080,
        "protocol": "tcp",
        "endpoints": ["pod1", "pod2", "pod3"],
    }
    pods = {
        "pod1": {"ip": "10.244.1.2"},
        "pod2": {"ip": "10.244.2.2"},
        "pod3": {"ip": "10.244.2.3"},
    }
    text = services.ruleset([svc], pods, "10.244.1.0/24")
    probabilities = [
        float(line.split("--probability ")[1].split()[0])
        for line in text.splitlines()
        if "statistic" in line
    ]
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


def test_three_mistakes_are_reported_together_with_their_lines(tmp_path):
    text = GOOD.replace("pods: 2}", "pods: 2, colour: red}").replace(
        "kind: cluster", "kind: clustre"
    )
    text += "overlay: {type: vxlan, vni: 0}\n"
    result = taplab("topo", "check", str(write(tmp_path, text)))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "3 problems" in result.stderr
    for expected in (
        'line 2: kind: "clustre" is not one of cluster',
        "line 4: nodes[0].colour: unknown field",
        "line 6: overlay.vni: 0 must be at least 1",
    ):
        assert expected in result.stderr, result.stderr


MISTAKES = {
    "list as a service name": (
        GOOD + "services:\n  - {name: [a], ip: 10.96.0.1, port: 80}\n",
        "services[0].name: must be a string",
    ),
    "dict as a link end": (
        GOOD + "links:\n  - {a: {x: 1}, b: node2}\n",
        "links[0].a: must be a string",
    ),
    "a billion pods": (
        GOOD.replace("pods: 2}", "pods: 1000000000}"),
        "nodes[0].pods: 1000000000 is not valid",
    ),
    "negative VNI": (GOOD + "overlay: {type: vxlan, vni: -5}\n", "overlay.vni: -5 must be"),
    "port out of range": (
        GOOD + "overlay: {type: vxlan, port: 99999}\n",
        "overlay.port: 99999 must be at most 65535",
    ),
    "IPv6 loopback service": (
        GOOD + "services:\n  - {name: s, ip: '::1', port: 80}\n",
        "services[0].ip: '::1' is not an IPv4 address",
    ),
    "IPv4 loopback service": (
        GOOD + "services:\n  - {name: s, ip: 127.0.0.1, port: 80}\n",
        "127.0.0.1 cannot be a service address",
    ),
    "link to itself": (
        GOOD + "links:\n  - {a: node1, b: node1}\n",
        "links[0].b: a link from node1 to itself",
    ),
    "a path as name": (GOOD.replace("name: t", "name: ../../etc/x"), 'name: "../../etc/x"'),
    "deep nesting": ("a: " + "[" * 3000 + "]" * 3000 + "\n", "nested more than"),
    "alias bomb": (
        "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"{k}: &{k} [{', '.join(['*' + prev] * 10)}]\n"
            for prev, k in zip("abcdefgh", "bcdefghi", strict=True)
        ),
        "more than 100000 values",
    ),
    "options of another kind": (GOOD + "options: {rules: 5}\n", "takes no options"),
    "spine-leaf without its tunnel": (
        GOOD.replace("kind: cluster", "kind: spine-leaf"),
        "options: missing",
    ),
    "a variant typo": (
        GOOD.replace("kind: cluster", "kind: bridge-policy") + "options: {variant: no-mtach}\n",
        'options.variant: "no-mtach" is not one of',
    ),
    "bad link impairment": (
        GOOD + "links:\n  - {a: node1, b: node2, delay: 10 parsecs}\n",
        'links[0].delay: "10 parsecs" is not valid',
    ),
    "jitter without delay": (
        GOOD + "links:\n  - {a: node1, b: node2, jitter: 5ms}\n",
        "links[0].jitter: needs delay too",
    ),
    "loss over 100 %": (
        GOOD + "links:\n  - {a: node1, b: node2, loss: 150%}\n",
        "links[0]: loss '150%' is more than 100 %",
    ),
    "a check in no node": (
        GOOD + "checks:\n  - {node: pod9, run: 'true'}\n",
        "checks[0].node: no node named 'pod9'",
    ),
}


@pytest.mark.parametrize("case", sorted(MISTAKES))
def test_mistakes_are_user_errors_naming_the_field(tmp_path, case):
    text, expected = MISTAKES[case]
    result = taplab("topo", "check", str(write(tmp_path, text)), timeout=60)
    assert result.returncode == 2, result.stdout
    assert expected in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_a_file_that_is_not_utf8_is_a_user_error(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(GOOD.replace("web", "caf\xe9").encode("latin-1"))
    result = taplab("topo", "check", str(path))
    assert result.returncode == 2 and "not UTF-8 text" in result.stderr


def test_named_topologies_follow_the_published_schema():
    validator = jsonschema.Draft202012Validator(json.loads(topofile.SCHEMA_FILE.read_text()))
    validator.check_schema(validator.schema)
    for name in topofile.names():
        validator.validate(yaml.safe_load(topofile.named_file(name).read_text()))


def test_startup_commands_interfaces_impairments_and_checks_are_kept(tmp_path):
    text = GOOD.replace("pods: 2}", "pods: 2, exec: ['sysctl -w net.ipv4.ip_forward=1']}")
    text += textwrap.dedent("""\
        links:
          - {a: node1, b: node2, intf_a: wan0, rate: 20mbit, delay: 10ms, jitter: 1ms,
             loss: 1%, corrupt: 0.1, reorder: 5%}
        checks:
          - {node: pod1, run: "ping -c1 10.244.2.2", output: "1 received"}
        """)
    spec = topofile.load(str(write(tmp_path, text)))
    assert spec["nodes"][0]["exec"] == ["sysctl -w net.ipv4.ip_forward=1"]
    link = spec["links"][0]
    assert {k: link[k] for k in topofile.IMPAIRMENTS} == {
        "rate": "20mbit",
        "delay": "10ms",
        "jitter": "1ms",
        "loss": "1%",
        "corrupt": 0.1,
        "reorder": "5%",
    }
    assert link["intf_a"] == "wan0"
    assert spec["checks"] == [
        {"node": "pod1", "run": "ping -c1 10.244.2.2", "output": "1 received"}
    ]


CHECKED = """\
name: checked
kind: netns-pair
nodes:
  - {name: host1, role: host, cidr: "fd00:1::/64", pods: [ctr1],
     exec: ["ip addr add fd00:99::1/128 dev lo"]}
  - {name: host2, role: host, cidr: "fd00:2::/64", pods: [ctr2]}
links:
  - {a: host1, b: host2, cidr: "fd00:12::/64"}
checks:
  - {node: host1, run: "ip -6 addr show dev lo", output: "fd00:99::1"}
  - {node: host2, run: "exit 3", exit: 3}
"""


@needs("iptables")
def test_lab_check_runs_startup_commands_then_the_files_checks(tmp_path):
    good = taplab("lab", str(write(tmp_path, CHECKED)), "--check")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "2 of 2 checks passed" in good.stdout
    failing = CHECKED + '  - {node: ctr2, run: "echo nope", output: "yes"}\n'
    bad = taplab("lab", str(write(tmp_path, failing, "failing.yaml")), "--check")
    assert bad.returncode == 1 and "2 of 3 checks passed" in bad.stdout
    assert "ctr2: echo nope: its output lacks 'yes'" in bad.stdout


@needs("iptables")
def test_a_failing_startup_command_stops_the_build_with_its_output(tmp_path):
    text = CHECKED.replace("ip addr add fd00:99::1/128 dev lo", "ip link set nosuchdev up")
    result = taplab("lab", str(write(tmp_path, text)), "--check")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "startup command 'ip link set nosuchdev up' failed in host1" in result.stderr


@needs("iptables")
def test_topo_check_runs_the_files_checks_on_a_running_lab(tmp_path):
    path = write(tmp_path, CHECKED)
    started = taplab("lab", str(path), "--detach")
    assert started.returncode == 0, started.stderr
    lab_id = started.stdout.split()[1]
    try:
        result = taplab("topo", "check", str(path), "--lab", lab_id)
    finally:
        assert taplab("lab", "stop", lab_id).returncode == 0
    assert result.returncode == 0 and "2 of 2 checks passed" in result.stdout, result.stdout


NAMED_AND_SHAPED = (
    CHECKED.replace(
        '{a: host1, b: host2, cidr: "fd00:12::/64"}',
        '{a: host1, b: host2, cidr: "fd00:12::/64", intf_a: wan0, intf_b: wan1, rate: 20mbit}',
    )
    + """\
  - {node: host1, run: "tc qdisc show dev wan0", output: "htb"}
  - {node: host2, run: "tc class show dev wan1", output: "rate 20Mbit"}
  - {node: host1, run: "ping -6 -c1 -W2 fd00:12::2", output: "1 received"}
"""
)


@needs("iptables", "htb")
def test_links_get_the_files_interface_names_and_bandwidth(tmp_path):
    result = taplab("lab", str(write(tmp_path, NAMED_AND_SHAPED)), "--check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 of 5 checks passed" in result.stdout
