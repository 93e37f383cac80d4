"""The demo's parts without a network: the web probe's log, the live view, the report files."""

from rich.console import Console

from taplab.demo import report as demo_report
from taplab.demo.liveview import LiveView, Sample, Sampler
from taplab.demo.webprobe import recovery, tally
from tests.conftest import wait_for

LOG = "100.0 ok 2.0\n101.0 ok 4.0\n102.0 failed 500.0\n102.5 failed 500.0\n103.0 ok 3.0\n"


def test_probe_log_tally_and_recovery(tmp_path):
    log = tmp_path / "webprobe.log"
    log.write_text(LOG + "103.2 ok")  # a line still being written is ignored
    assert tally(log, 101.0) == {"ok": 2, "failed": 2, "latency_ms": 3.5}
    assert recovery(log, 101.5) == {"failed": 2, "first_failure": 102.0, "back_at": 103.0}
    assert recovery(log, 100.0)["back_at"] == 103.0
    assert recovery(log, 102.8) == {"failed": 0, "first_failure": None, "back_at": None}
    assert tally(tmp_path / "missing.log", 0) == {"ok": 0, "failed": 0, "latency_ms": None}


def test_live_view_shows_steps_traffic_taps_and_a_timeline_of_alerts():
    view = LiveView(["lab t1: vxlan overlay"], ["build", "flood"])
    view.step("build", "done", "2 nodes")
    samples = iter(
        [
            Sample(
                1.0,
                rates={"web rx pkt/s": 1234.5},
                service={"ok": 0, "failed": 3, "latency_ms": None},
                taps=[
                    {"kind": "sidecar", "node": "pod6", "packets": 42, "collector": {"packets": 40}}
                ],
                alerts=[{"time": 2.0, "name": "syn-flood", "src": "10.0.0.9", "detail": "CUSUM"}],
                actions=[{"time": 2.1, "action": "Block", "src": "10.0.0.9", "seconds": 30}],
            )
        ]
    )
    with Sampler(lambda _t: next(samples), interval=0.01) as sampler:
        view.sampler = sampler
        wait_for(lambda: sampler.errors, timeout=5, what="the exhausted probe to raise")
    console = Console(record=True, width=120)
    console.print(view)
    text = console.export_text()
    assert "done build" in text.replace("  ", " ") and "waiting flood" in text.replace("  ", " ")
    assert "1,234.5" in text and "down 0 ok / 3 failed" in text
    assert "sidecar" in text and " 40 " in text
    assert text.index("syn-flood") < text.index("Block") and "for 30 s" in text
    assert len(sampler.history) == 1  # a probe that raises is counted; the view goes on


def test_report_files(tmp_path):
    attack = {
        "kind": "syn-flood",
        "attacker": "10.0.0.9",
        "detected": True,
        "delay_s": 0.12,
        "alert": "syn-flood",
        "action": "Block 10.0.0.9 for 30 s",
        "start": 10.0,
        "end": 20.0,
        "alert_time": 10.1,
        "action_time": 10.1,
        "service": {"failed": 6, "back_after_action_s": 3.1},
    }
    report = {
        "attacks": [
            attack,
            {"kind": "port-scan", "detected": False, "delay_s": None, "action": None},
        ],
        "taps": [
            {
                "kind": "sidecar",
                "node": "pod6",
                "packets": 10,
                "fidelity": 0.5,
                "cpu_pct": 1.0,
                "mem_mb": 16,
                "throughput_ratio": 0.99,
            }
        ],
        "steps": [{"name": "SYN flood", "status": "done", "note": "ok", "seconds": 12.0}],
        "topology": "cluster",
        "duration_s": 70.0,
    }
    history = [
        Sample(t, rates={"web rx pkt/s": 10.0 * t}, service={"ok": 5, "failed": 0})
        for t in range(30)
    ]
    paths = demo_report.write(tmp_path, report, history)
    assert [p.name for p in paths] == ["demo.json", "timeline.png", "summary.md"]
    summary = (tmp_path / "summary.md").read_text()
    assert (
        "| syn-flood | 10.0.0.9 | yes | 0.12 | syn-flood | Block 10.0.0.9 for 30 s | "
        "6 probes failed, back 3.1 s after block |"
    ) in summary
    assert "| port-scan | - | no | - | - | - | unaffected |" in summary
    assert (tmp_path / "timeline.png").read_bytes()[:4] == b"\x89PNG"
    console = Console(record=True, width=160)
    console.print(demo_report.tables(report))
    assert "50.0%" in console.export_text()
