"""``taplab bench encap --quick`` on real labs: every path measured, MTUs as the overlays
leave them, fragmentation where a 1500-byte inner packet outgrows the tunnel."""

import json

from taplab.bench.encap import FIELDS, PATHS
from tests.conftest import needs, taplab
from tests.test_tap_bench import bench_labs

MTU = {"none": 1500, "host-gw": 1500, "vxlan": 1450, "gre": 1476, "vxlan-over-gre": 1426}


@needs("vxlan", "iperf3", "iptables", "gre|ovs_user")
def test_quick_bench_json_csv_png_and_cleanup(tmp_path):
    before = {n: set(bench_labs(f"bench-encap-{n}")) for n in PATHS}
    result = taplab("bench", "encap", "--quick", "--json", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    rows = {r["path"].split()[0]: r for r in data["rows"]}
    assert list(rows) == list(PATHS)
    for name, r in rows.items():
        assert set(FIELDS) <= set(r)
        assert r["gbps"] > 0.01 and r["rr_mean_us"] > 0
        assert r["effective_mtu"] == MTU[name], (name, r["effective_mtu"])
        assert r["sweep"][0] == {"size": 1400, "answered": True, "fragments": 0}
        if MTU[name] == 1500:  # nothing to outgrow: every size crosses whole
            assert r["fragments_from"] is None and r["lost_from"] is None
    assert rows["none"]["gbps_ratio"] == 1.0
    # a 1500-byte packet does not fit VXLAN's 1450: the node fragments it, and it arrives
    assert rows["vxlan"]["fragments_from"] == 1500 and rows["vxlan"]["lost_from"] is None
    if not data["settings"]["kernel_gre"]:
        assert rows["gre"]["path"] == "gre (OVS userspace)"
    assert data["published"]["mtu"] == {"vxlan": 1450, "gre": 1476, "vxlan-over-gre": 1426}
    assert len(data["provenance"]["git_commit"]) == 40
    report = next(tmp_path.glob("encap-*"))
    assert (report / "encap.png").stat().st_size > 0
    assert len((report / "encap.csv").read_text().splitlines()) == 1 + len(PATHS)
    assert all(set(bench_labs(f"bench-encap-{n}")) <= before[n] for n in PATHS)  # ours gone


def test_unknown_path_is_one_sentence():
    result = taplab("bench", "encap", "--paths", "ipip")
    assert result.returncode == 2 and "--paths takes none, host-gw" in result.stderr
    assert "Traceback" not in result.stderr
