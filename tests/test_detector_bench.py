"""``taplab bench detection --quick`` runs here, prints its table and writes its report."""

import json

import pytest

from tests.conftest import needs, taplab

pytestmark = [pytest.mark.network, needs("nmap", "hping3")]


def test_quick_bench_prints_the_table_and_writes_json_and_timelines(tmp_path):
    result = taplab("bench", "detection", "--quick", "--slow", "T2", "--out", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    for scenario in ("benign-busy", "flood-1000", "scan-sS-T4", "scan-sS-T2"):
        assert scenario in result.stdout
    [folder] = tmp_path.iterdir()
    data = json.loads((folder / "detection.json").read_text())
    assert len(list(folder.glob("timeline-*.png"))) == 4
    results = {(r["scenario"], r["detector"]): r for r in data["results"]}
    assert set(results) >= {
        (s, d)
        for s in ("benign-busy", "flood-1000", "scan-sS-T4")
        for d in ("trw", "cusum", "zeek", "snort", "heavy-hitter", "fan-out")
    }
    assert all(
        set(r) >= {"detected", "delay_s", "probes", "false_positives", "source_named"}
        for r in data["results"]
    )
    families = {(f["family"], f["detector"]): f for f in data["families"]}
    assert families[("scan", "trw")]["scenarios"] == 2  # the fast and the slow sS
    assert families[("scan", "trw")]["source_named"] >= 1
    assert families[("flood", "cusum")]["detected"] == 1
    assert "scan-sS-T4" not in data["caught_by_no_detector"]
    assert "per family" in result.stdout and "caught by no detector" in result.stdout
    # Detection quality (not speed): what the detectors are for, they find, naming the source.
    assert results[("scan-sS-T4", "trw")]["detected"]
    assert results[("flood-1000", "cusum")]["detected"]
    assert results[("benign-busy", "trw")]["false_positives"] == 0
    truth = data["scenarios"][1]["ground_truth"][0]
    assert truth["kind"] == "syn-flood" and truth["tool"] == "hping3"
