"""``taplab bench encap --quick`` on real labs: every path on both topologies measured, MTUs
as the encapsulations leave them, fragmentation where a 1500-byte inner packet outgrows the
tunnel."""

import json

from taplab.bench.encap import FIELDS, PATHS
from tests.conftest import needs, taplab
from tests.test_tap_bench import bench_labs

MTU = {"none": 1500, "host-gw": 1500, "vxlan": 1450, "gre": 1476, "vxlan-over-gre": 1426}
LABS = [f"bench-encap-{p.topology}-{p.name}" for p in PATHS]


@needs("vxlan", "iperf3", "iptables", "gre|ovs_user")
def test_quick_bench_json_csv_png_and_cleanup(tmp_path):
    before = {n: set(bench_labs(n)) for n in LABS}
    result = taplab("bench", "encap", "--quick", "--json", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    rows = {(r["topology"], r["path"].split()[0]): r for r in data["rows"]}
    assert list(rows) == [(p.topology, p.name) for p in PATHS]
    assert {t for t, _ in rows} == {"cluster", "spine-leaf"}
    for (topology, name), r in rows.items():
        assert set(FIELDS) <= set(r)
        assert r["gbps"] > 0.01 and r["rr_mean_us"] > 0
        assert r["effective_mtu"] == MTU[name], (topology, name, r["effective_mtu"])
        assert r["sweep"][0] == {"size": 1400, "answered": True, "fragments": 0}
        if MTU[name] == 1500:  # nothing to outgrow: every size crosses whole
            assert r["fragments_from"] is None and r["lost_from"] is None
        if "gre" in name and not data["settings"]["kernel_gre"]:
            assert r["path"] == f"{name} (OVS userspace)"
    assert data["baseline"] == {"cluster": "none", "spine-leaf": "none"}
    assert rows["cluster", "none"]["gbps_ratio"] == rows["spine-leaf", "none"]["gbps_ratio"] == 1.0
    # a 1500-byte packet does not fit VXLAN's 1450: a node fragments it, and it arrives
    for topology in ("cluster", "spine-leaf"):
        vxlan = rows[topology, "vxlan"]
        assert vxlan["fragments_from"] == 1500 and vxlan["lost_from"] is None, topology
    if not data["settings"]["kernel_gre"]:  # OVS drops what outgrows the underlay after GRE
        for key, lost, fragmented in (
            (("cluster", "gre"), 1500, None),
            (("spine-leaf", "gre"), 1500, None),  # the DF probes' path MTU forgotten
            (("spine-leaf", "vxlan-over-gre"), 1450, 1500),  # 1450 + 50 + 24 > 1500
        ):
            assert (rows[key]["lost_from"], rows[key]["fragments_from"]) == (lost, fragmented), key
    assert data["published"]["mtu"] == {"vxlan": 1450, "gre": 1476, "vxlan-over-gre": 1426}
    assert len(data["provenance"]["git_commit"]) == 40
    report = next(tmp_path.glob("encap-*"))
    assert (report / "encap.png").stat().st_size > 0
    csv = (report / "encap.csv").read_text().splitlines()
    assert len(csv) == 1 + len(PATHS) and csv[0].startswith("topology,path,")
    assert all(set(bench_labs(n)) <= before[n] for n in LABS)  # ours gone


def test_unknown_path_or_topology_is_one_sentence():
    for argv, said in (
        (["--paths", "ipip"], "--paths takes none, host-gw"),
        (["--topologies", "ring"], "--topologies takes cluster, spine-leaf"),
        (["--paths", "host-gw", "--topologies", "spine-leaf"], "host-gw is a cluster path"),
    ):
        result = taplab("bench", "encap", *argv)
        assert result.returncode == 2 and said in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
