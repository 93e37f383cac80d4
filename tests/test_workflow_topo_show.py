"""``taplab topo show``: a tree by default, DOT and Mermaid on stdout, Graphviz
drawings only when asked, the same size options as ``taplab lab``."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import needs, taplab

TOPOLOGIES = Path(__file__).resolve().parents[1] / "topologies"


def _show(*args: str, cwd=None) -> subprocess.CompletedProcess:
    result = taplab("topo", "show", *args, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return result


def _dot_labels(dot: str) -> dict[str, list[str]]:
    return {
        m[0]: m[1].split("\\n") for m in re.findall(r'^  "([^"]+)" \[label="([^"]*)"', dot, re.M)
    }


def test_the_default_is_a_tree_and_writes_no_file(tmp_path):
    out = _show("cluster", cwd=tmp_path).stdout
    assert "cluster (cluster)" in out and "pod4" in out and "web ClusterIP" in out
    assert list(tmp_path.iterdir()) == []


def test_dot_has_addresses_tunnels_and_services():
    dot = _show("cluster", "--dot").stdout
    labels = _dot_labels(dot)
    assert labels["node1"] == ["node1", "10.244.1.0/24", "192.168.0.1"]
    assert labels["pod3"] == ["pod3", "10.244.2.2"]
    assert labels["svc:web-nodeport"] == ["web-nodeport NodePort", "10.96.0.11:80 node port 30080"]
    assert re.search(r'"node1" -- "node2" \[label="VXLAN VNI 1 udp/4789", style=dashed', dot)
    assert '"pod4" -- "svc:web" [label=":8080"' in dot


def test_size_and_overlay_options_are_those_of_lab():
    dot = _show("cluster", "--nodes", "3", "--pods", "3", "--overlay", "gre", "--dot").stdout
    labels = _dot_labels(dot)
    assert labels["pod9"] == ["pod9", "10.244.3.4"] and "pod10" not in labels
    assert '"node2" -- "node3" [label="GRE"' in dot and "VXLAN" not in dot
    refused = taplab("topo", "show", "spine-leaf", "--nodes", "3")
    assert refused.returncode == 2 and "has no option --nodes" in refused.stderr


def test_spine_leaf_shows_gre_between_leaves_and_vxlan_42_between_vteps():
    dot = _show("spine-leaf", "--dot").stdout
    assert '"leaf1" -- "leaf2" [label="GRE 172.16.0.0/30"' in dot
    assert '"vtep1" -- "vtep2" [label="VXLAN VNI 42 udp/4789"' in dot
    assert '"spine1" -- "leaf1" [label="10.0.1.0/24"]' in dot


@pytest.mark.parametrize(
    "encap, gre, vxlan",
    [("vxlan", False, True), ("gre", True, False), ("none", False, False)],
)
def test_spine_leaf_draws_only_the_tunnels_its_encap_builds(tmp_path, encap, gre, vxlan):
    text = (TOPOLOGIES / "spine-leaf.yaml").read_text()
    topo = tmp_path / "fabric.yaml"
    topo.write_text(text.replace("options: {", f"options: {{encap: {encap}, ", 1))
    dot = _show(str(topo), "--dot").stdout
    assert ('"leaf1" -- "leaf2" [label="GRE' in dot) == gre
    assert ('"vtep1" -- "vtep2" [label="VXLAN' in dot) == vxlan
    assert _show("spine-leaf", "--encap", encap, "--dot").stdout == dot  # as lab --encap


def test_mermaid_has_the_same_vertices_and_labelled_edges():
    text = _show("spine-leaf", "--mermaid").stdout
    assert text.startswith("flowchart LR\n")
    assert 'v_leaf1 -.-|"GRE 172.16.0.0/30"| v_leaf2' in text
    assert 'v_spine1 ---|"10.0.1.0/24"| v_leaf1' in text
    assert len(re.findall(r'^  v_\w+\["', text, re.M)) == 7


@pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz is not installed (make install installs it)"
)
def test_png_and_svg_are_drawn_only_where_asked(tmp_path):
    out = _show("spine-leaf", "--png", str(tmp_path / "s.png"), cwd=tmp_path).stdout
    assert "drawing: " in out
    assert (tmp_path / "s.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    _show("cluster", "--svg", str(tmp_path / "c.svg"))
    svg = (tmp_path / "c.svg").read_text()
    assert "<svg" in svg and "VXLAN VNI 1 udp/4789" in svg and "10.96.0.10:80" in svg
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.svg", "s.png"]
    checked = subprocess.run(
        ["dot", "-Tsvg", "-o", "/dev/null"],
        capture_output=True,
        text=True,
        input=_show("cluster", "--dot").stdout,
    )
    assert checked.returncode == 0 and checked.stderr == ""


def test_a_drawing_that_cannot_be_written_is_one_sentence(tmp_path):
    result = taplab("topo", "show", "cluster", "--png", str(tmp_path / "no" / "x.png"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "cannot write the drawing to" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""  # no tree above the error


@needs("vxlan")
def test_the_planned_addresses_are_the_built_ones(tmp_path):
    labels = _dot_labels(_show("cluster", "--nodes", "2", "--pods", "2", "--dot").stdout)
    started = taplab("lab", "cluster", "--nodes", "2", "--pods", "2", "--detach")
    assert started.returncode == 0, started.stderr
    lab_id = re.search(r"lab (t\w+) runs", started.stdout).group(1)
    try:
        status = json.loads(taplab("status", lab_id, "--json").stdout)
    finally:
        taplab("lab", "stop", lab_id)
    for pod in ("pod1", "pod2", "pod3", "pod4"):
        assert f"{pod}-eth0 {labels[pod][1]}/24" in status["nodes"][pod], pod
    assert any(a.endswith(f" {labels['node2'][2]}/24") for a in status["nodes"]["node2"])
