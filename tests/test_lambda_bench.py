"""`taplab bench lambda` runs the four published points and prints its table."""

import json
import os

from taplab.state import recorded_labs
from tests.conftest import needs, taplab

KEYS = {"mode", "loss", "events_per_2s", "published_events_per_2s", "p50_ms", "p99_ms"}


@needs()
def test_bench_lambda_prints_its_table_and_writes_the_figures(tmp_path):
    result = taplab(
        "bench", "lambda", "--short", "--out", str(tmp_path), env={**os.environ, "COLUMNS": "160"}
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "lambda server telemetry ingest" in out
    for published in ("900,000", "170,000", "70,000", "35,000"):
        assert published in out
    (report,) = tmp_path.glob("lambda-*/lambda.json")
    data = json.loads(report.read_text())
    runs = data["runs"]
    assert [(r["mode"], r["loss"]) for r in runs] == [
        ("noack", 0.0),
        ("ack", 0.01),
        ("ack", 0.03),
        ("ack", 0.05),
    ]
    for r in runs:
        assert KEYS <= set(r)
        assert r["events_per_2s"] > 0 and r["p50_ms"] is not None and r["p99_ms"] >= r["p50_ms"]
    assert all(r["retransmits"] > 0 for r in runs[1:])  # loss was really injected
    assert (report.parent / "lambda.png").stat().st_size > 0
    assert "conditions" in data
    # the bench's lab (controller process, state file, work dir) is gone
    assert not any(s.name == "bench-lambda" for s in recorded_labs())
