"""The in-kernel stealth-scan detector (``stealth-ebpf``) on synthetic counter rows."""

import io
import json
import socket
import struct
from collections import namedtuple
from types import SimpleNamespace

from taplab.detectors.cusum import CusumSynFlood
from taplab.detectors.ebpf_syn import STEALTH, stealth_rows
from taplab.detectors.live import kernel_detections
from taplab.detectors.observation import Observation
from taplab.detectors.stealth_counts import KernelStealthScan
from taplab.detectors.trw import ThresholdRandomWalk

SCANNER, OTHER, TARGET = "10.0.0.66", "10.0.0.9", "10.0.0.2"
Key = namedtuple("Key", "value")  # a bcc map key


def row(t, src=SCANNER, null=0, xmas=0, fin=0, odd=0, replies=0, forged=0, claimed="0.0.0.0"):
    return [t, STEALTH, src, TARGET, null, xmas, fin, odd, replies, forged, claimed]


def test_the_fourth_probe_flags_the_sender_naming_what_it_sent():
    det = KernelStealthScan()
    assert det.observe_row(row(0.2, null=2, replies=2)) == []
    assert det.observe_row(row(0.4, fin=1, replies=1)) == []
    (alert,) = det.observe_row(row(0.6, xmas=1, replies=1))
    assert (alert.name, alert.src, alert.dst) == ("stealth-scan", SCANNER, TARGET)
    assert "4 probes" in alert.detail and "1 Xmas" in alert.detail
    assert "1 RSTs/unreachables back" in alert.detail


def test_the_threshold_is_the_failures_trw_needs_for_the_same_probes():
    trw, kernel = ThresholdRandomWalk(), KernelStealthScan()
    probes = []
    for port in range(1, 5):
        probes.append(Observation(port, SCANNER, TARGET, "tcp", 40000, port, "F", 60))
        probes.append(Observation(port + 0.01, TARGET, SCANNER, "tcp", port, 40000, "RA", 60))
    trw_alerts = [(o.time, a) for o in probes for a in trw.observe(o)]
    kernel_alerts = [
        (t, a) for t in range(1, 5) for a in kernel.observe_row(row(t, fin=1, replies=1))
    ]
    assert [t for t, _ in trw_alerts] == [4.01] and [t for t, _ in kernel_alerts] == [4]
    assert trw_alerts[0][1].name == kernel_alerts[0][1].name == "stealth-scan"


def test_senders_are_counted_apart_and_alerted_once_per_window():
    det = KernelStealthScan(threshold=4, window=10)
    assert det.observe_row(row(0, null=3)) == []
    assert det.observe_row(row(0, src=OTHER, null=3)) == []
    assert [a.src for a in det.observe_row(row(1, null=1))] == [SCANNER]
    assert det.observe_row(row(2, null=50)) == []  # reported already in this window
    assert [a.src for a in det.observe_row(row(12, null=4))] == [SCANNER]


def test_probes_older_than_the_window_do_not_add_up():
    det = KernelStealthScan(threshold=4, window=10)
    alerts = [a for t in (0, 11, 22, 33) for a in det.observe_row(row(t, fin=3))]
    assert alerts == []


def test_forged_sources_are_reported_against_the_real_sender():
    det = KernelStealthScan()
    (alert,) = det.observe_row(row(0, fin=8, forged=6, claimed="10.0.0.7"))
    assert alert.src == SCANNER and "6 with forged sources (last 10.0.0.7)" in alert.detail


def test_counter_rows_go_to_their_detector():
    cusum, stealth = CusumSynFlood(), KernelStealthScan()
    quiet = [0.2, TARGET, 1, 1, 0, 0, "10.0.0.3", 1]
    assert kernel_detections(quiet, cusum, stealth) == []
    (det,) = kernel_detections(row(0.4, null=5), cusum, stealth)
    assert (det.detector, det.alert.src, det.time) == ("stealth-ebpf", SCANNER, 0.4)


def _key(addr: str) -> int:
    return struct.unpack("I", socket.inet_aton(addr))[0]


def _map(counts: dict) -> dict:
    """A bcc-like table: keys with .value (network order), values with the counts."""
    names = ("null", "xmas", "fin", "odd", "replies", "forged")
    return {
        "stealth_from": {
            Key(_key(src)): SimpleNamespace(
                **dict(zip(names, values, strict=True)),
                dst=_key(TARGET),
                claimed=0,
            )
            for src, values in counts.items()
        }
    }


def test_the_counter_prints_each_changed_senders_deltas():
    out = io.StringIO()
    previous = stealth_rows(_map({SCANNER: (3, 0, 1, 0, 4, 0)}), {}, 1.0, out)
    previous = stealth_rows(
        _map({SCANNER: (3, 0, 1, 0, 4, 0), OTHER: (1,) * 6}), previous, 2.0, out
    )
    stealth_rows(_map({SCANNER: (5, 2, 1, 0, 6, 0), OTHER: (0, 0, 1, 0, 0, 0)}), previous, 3.0, out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert rows == [
        [1.0, STEALTH, SCANNER, TARGET, 3, 0, 1, 0, 4, 0, "0.0.0.0"],
        [2.0, STEALTH, OTHER, TARGET, 1, 1, 1, 1, 1, 1, "0.0.0.0"],
        [3.0, STEALTH, SCANNER, TARGET, 2, 2, 0, 0, 2, 0, "0.0.0.0"],
        [3.0, STEALTH, OTHER, TARGET, 0, 0, 1, 0, 0, 0, "0.0.0.0"],  # evicted, counted anew
    ]
