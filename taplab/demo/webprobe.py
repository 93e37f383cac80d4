"""A service health probe: ``python -m taplab.demo.webprobe URL [INTERVAL]``.

Runs inside a client pod and prints one line per HTTP GET, forever::

    1732250000.12 ok 3.1
    1732250000.35 failed 500.0

(unix time, outcome, milliseconds). ``tally(path, since)`` counts the lines
written after ``since`` (the demo's live view) and ``recovery(path, since)``
says when requests started failing and when the service answered again: how
the demo reports a service going down under a flood and coming back once the
attacker is blocked.
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


def outcomes(path: Path, since: float) -> list[tuple[float, bool, float]]:
    """(start time, ok, milliseconds) of every request started after since."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        fields = line.split()
        if len(fields) == 3 and float(fields[0]) >= since:
            found.append((float(fields[0]), fields[1] == "ok", float(fields[2])))
    return found


def tally(path: Path, since: float) -> dict:
    """ok and failed requests started after since, and their mean latency (ms)."""
    done = outcomes(path, since)
    latencies = [ms for _t, ok, ms in done if ok]
    return {
        "ok": len(latencies),
        "failed": len(done) - len(latencies),
        "latency_ms": sum(latencies) / len(latencies) if latencies else None,
    }


def recovery(path: Path, since: float) -> dict:
    """Requests that failed after since, and when the service answered again."""
    done = outcomes(path, since)
    failed = [t for t, ok, _ms in done if not ok]
    back = next((t for t, ok, _ms in done if ok and failed and t > failed[-1]), None)
    return {"failed": len(failed), "first_failure": failed[0] if failed else None, "back_at": back}


if __name__ == "__main__":
    probe(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 0.2)
