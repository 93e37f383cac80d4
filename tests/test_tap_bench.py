"""``taplab bench taps`` runs on this machine (a tiny version) and prints its table."""

import json
import os

from taplab.bench.taps import PUBLISHED
from taplab.state import LABS_DIR
from tests.conftest import needs, taplab

pytestmark = needs("vxlan", "iperf3", "bcc", "tc_bpf")

FIELDS = {
    "offloads",
    "tap",
    "rate_mbps",
    "throughput_ratio",
    "fidelity",
    "tap_cpu_pct",
    "tap_mem_mb",
    "retransmits",
}


def bench_labs(name: str = "bench-taps") -> list[str]:
    """State files of the bench's labs (other labs come and go meanwhile)."""
    found = []
    for path in LABS_DIR.glob("*.json"):
        try:
            if json.loads(path.read_text())["name"] == name:
                found.append(path.stem)
        except (OSError, ValueError, KeyError):
            continue
    return found


def test_tiny_bench_json_shape_and_cleanup(tmp_path):
    result = taplab(
        "bench",
        "taps",
        "--kinds",
        "sidecar,ebpf",
        "--rates",
        "20M",
        "--time",
        "1",
        "--repeats",
        "2",
        "--offloads",
        "off",
        "--json",
        "--out",
        str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    runs = {r["tap"]: r for r in data["rows"]}
    assert {r["offloads"] for r in data["rows"]} == {"off"}
    assert set(runs) == {"none", "sidecar", "ebpf"}
    assert all(FIELDS <= set(r) for r in runs.values())
    assert runs["none"]["throughput_ratio"] == 1.0 and runs["none"]["fidelity"] is None
    assert len(runs["sidecar"]["repeats"]) == 2
    for kind in ("sidecar", "ebpf"):
        assert 15 < runs[kind]["repeats"][0]["mbps"] < 25  # iperf3 held the rate
        assert 0.9 < runs[kind]["fidelity"] <= 1.0
    assert runs["sidecar"]["tap_cpu_pct"] > 0 and runs["sidecar"]["tap_mem_mb"] > 1
    assert data["published"] == json.loads(json.dumps(PUBLISHED))  # beside ours, as published
    assert data["provenance"]["command"].startswith("taplab bench taps")
    report = next(tmp_path.glob("taps-*"))
    assert (report / "taps.png").stat().st_size > 0 and (report / "taps.json").exists()
    header, *lines = (report / "taps.csv").read_text().splitlines()
    assert header.startswith("offloads,tap,rate") and len(lines) == 3
    assert bench_labs() == []


@needs("xdp")
def test_quick_mode_measures_both_offload_settings_and_the_empty_hooks(tmp_path):
    result = taplab(
        "bench",
        "taps",
        "--quick",
        "--kinds",
        "ebpf,xdp-pass,tc-pass",
        "--json",
        "--out",
        str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    points = {(r["offloads"], r["tap"], r["rate"]) for r in data["rows"]}
    for setting in ("on", "off"):
        assert {(setting, "none", "100M"), (setting, "ebpf", "unlimited")} <= points
        # the empty hooks cost nothing at a fixed rate: measured at unlimited rate only
        assert (setting, "xdp-pass", "unlimited") in points
        assert (setting, "tc-pass", "100M") not in points
        target = data["targets"][
            f"ebpf >= 95 % of untapped throughput at unlimited rate (offloads {setting})"
        ]
        assert target["floor"].startswith("the empty tc-pass hook alone")
        assert target["cpu"].startswith("busiest core ") and "of a core" in target["cpu"]
        assert target["met"] == (float(target["ours"].split()[0]) >= 95)
    assert data["settings"]["quick"] and data["settings"]["seconds"] == 1
    assert bench_labs() == []


def test_human_table(tmp_path):
    result = taplab(
        "bench",
        "taps",
        "--kinds",
        "tc-mirred",
        "--rates",
        "10M",
        "--time",
        "1",
        "--repeats",
        "1",
        "--offloads",
        "off",
        "--out",
        str(tmp_path),
        env={**os.environ, "COLUMNS": "80"},
    )
    assert result.returncode == 0, result.stderr
    assert "tc-mirred" in result.stdout and "fid%" in result.stdout
    assert "offloads off" in result.stdout and "offloads on" not in result.stdout
    assert all(len(line) <= 80 for line in result.stdout.splitlines())


def test_bad_rate_is_one_sentence():
    result = taplab("bench", "taps", "--rates", "fast")
    assert result.returncode == 2 and "bad rate 'fast'" in result.stderr
    assert "Traceback" not in result.stderr
