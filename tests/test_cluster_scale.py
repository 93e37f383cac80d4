"""A 4-node x 50-pod cluster builds here and sampled pod pairs reach each other; the bench runs."""

import json
import random

from taplab.lab import Lab
from taplab.topologies import registry
from tests.conftest import lab_leftovers, needs, taplab


@needs("iptables", "vxlan")
def test_4x50_cluster_builds_and_sampled_pairs_reach_each_other():
    rng = random.Random(4050)
    with Lab("cluster") as lab:
        registry.build(lab, "cluster", nodes=4, pods=50)
        pods = lab.meta["pods"]
        assert len(pods) == 200 and len(lab.meta["k8s_nodes"]) == 4
        names = sorted(pods)
        sources = rng.sample(names, 12)
        failures = []
        for src in sources:
            targets = [t for t in rng.sample(names, 9) if t != src][:8]
            script = (
                " ".join(
                    f"(ping -c1 -W3 {pods[t]['ip']} >/dev/null || echo FAIL {t}) &" for t in targets
                )
                + " wait"
            )
            failures += [
                f"{src}->{line.split()[1]}"
                for line in lab.node(src).cmd(script).splitlines()
                if line.startswith("FAIL")
            ]
        crossing = {pods[s]["node"] for s in sources}
        assert len(crossing) > 1
        assert failures == []
        lab_id = lab.id
    assert lab_leftovers(lab_id) == []


@needs("iptables", "vxlan")
def test_bench_build_prints_figures_and_writes_json(tmp_path):
    result = taplab("bench", "build", "--sizes", "1x3,2x3", "--json", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [(r["nodes"], r["pods"]) for r in data["runs"]] == [(1, 3), (2, 3)]
    for r in data["runs"]:
        assert r["overlay"] == "vxlan"
        assert r["build_s"] > 0 and r["teardown_s"] > 0 and r["plain_mininet_build_s"] > 0
        assert abs(r["ratio"] - r["build_s"] / r["plain_mininet_build_s"]) < 0.05
    report = json.loads(next(tmp_path.glob("build-*/build.json")).read_text())
    assert report["runs"] == data["runs"] and "conditions" in report
    assert next(tmp_path.glob("build-*/build.png")).stat().st_size > 0


def test_bench_build_rejects_a_bad_size():
    result = taplab("bench", "build", "--sizes", "4by50")
    assert result.returncode == 2
    assert "--sizes: '4by50' is not NODESxPODS" in result.stderr
