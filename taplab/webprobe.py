"""A service health probe: ``python -m taplab.webprobe URL [INTERVAL]``.

Runs inside a client pod and prints one line per HTTP GET, forever::

    1732250000.12 ok 3.1
    1732250000.35 failed 500.0

(unix time, outcome, milliseconds). ``tally(path, since)`` counts the lines
written after ``since``, which is how the demo's live view sees a service go
down under a flood and come back once the attacker is blocked.
"""

import sys
import time
import urllib.request
from pathlib import Path


def probe(url: str, interval: float, timeout: float = 0.5) -> None:
    while True:
        start = time.time()
        try:
            with urllib.request.urlopen(url, timeout=timeout) as answer:
                outcome = "ok" if answer.status == 200 else "failed"
        except Exception:  # noqa: BLE001 - refused, reset, timed out: all "failed"
            outcome = "failed"
        print(f"{start:.3f} {outcome} {1000 * (time.time() - start):.1f}", flush=True)
        time.sleep(max(0.0, interval - (time.time() - start)))


def tally(path: Path, since: float) -> dict:
    """ok and failed requests started after since, and their mean latency (ms)."""
    ok = failed = 0
    latencies = []
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return {"ok": 0, "failed": 0, "latency_ms": None}
    for line in lines:
        fields = line.split()
        if len(fields) != 3 or float(fields[0]) < since:
            continue
        if fields[1] == "ok":
            ok += 1
            latencies.append(float(fields[2]))
        else:
            failed += 1
    return {"ok": ok, "failed": failed,
            "latency_ms": sum(latencies) / len(latencies) if latencies else None}


if __name__ == "__main__":
    probe(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 0.2)
