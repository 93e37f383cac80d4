"""``taplab bench monitor --quick`` on a real lab: nginx, h2load, the three modes."""

import json
import shutil

import pytest

from taplab.bench.monitor import FIELDS, MODES
from tests.conftest import needs, taplab
from tests.test_tap_bench import bench_labs

TOOLS = pytest.mark.skipif(
    not (shutil.which("nginx") and shutil.which("h2load")),
    reason="nginx or h2load missing: run `sudo make install`",
)


@TOOLS
@needs("vxlan", "bcc", "tc_bpf")
def test_quick_bench_json_csv_png_and_cleanup(tmp_path):
    before = set(bench_labs("bench-monitor"))
    result = taplab("bench", "monitor", "--quick", "--json", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    rows = {(r["mode"], r["errors_pct"], r["instances"]): r for r in data["rows"]}
    cores = data["settings"]["cores"]
    points = [(0, 1), (100, 1)] + [(100, k) for k in range(2, cores + 1)]
    assert set(rows) == {(m, e, k) for m in MODES for e, k in points}
    for (mode, errors, _k), r in rows.items():
        assert set(FIELDS) <= set(r)
        assert r["req_s"] > 50 and r["requests"] > 50
        assert r["measured_errors_pct"] == errors  # nginx answered the mix asked for
        assert 0 < r["p50_ms"] <= r["p99_ms"] <= r["p999_ms"]
        mirrors = mode == "ebpf" and errors == 100
        # every response is a 500: each stream is mirrored; with no 500, nothing is
        assert (r["mirrored_packets"] > 100) if mirrors else (r["mirrored_packets"] == 0)
        # nginx and h2load keep the machine busy, part of it in softirq (TCP over veths)
        assert 0 < r["softirq_pct"] < r["machine_busy_pct"] <= 101
        assert (r["tap_cpu_pct"] > 0) if mirrors else (mode != "none" or r["tap_cpu_pct"] == 0)
        # the collector counts every copy; with no tap there is none to meter
        assert (
            (r["collector_cpu_pct"] > 0)
            if mirrors
            else (mode == "ebpf" or r["collector_cpu_pct"] == 0)
        )
        if mode == "none":
            assert r["req_ratio"] == 1.0
    assert data["published"]["tcp_throughput_pct"]["ebpf"] == 89.7
    assert len(data["provenance"]["git_commit"]) == 40
    report = next(tmp_path.glob("monitor-*"))
    assert (report / "monitor.png").stat().st_size > 0
    assert len((report / "monitor.csv").read_text().splitlines()) == 1 + len(rows)
    assert set(bench_labs("bench-monitor")) <= before  # this run's lab is gone (others may run)


def test_bad_error_share_is_one_sentence():
    result = taplab("bench", "monitor", "--errors", "30")
    assert result.returncode == 2 and "--errors takes shares among 0, 25" in result.stderr
    assert "Traceback" not in result.stderr
