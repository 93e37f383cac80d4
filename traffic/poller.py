"""A periodic HTTP poller: a monitoring scraper, a mesh health checker, a retrying client.

    python -m taplab.traffic.poller --targets 10.244.1.2,10.244.1.9 --port 9100 \\
        --interval 1 --seconds 60

Every interval it sends ``GET /`` to every target at once, each over a new TCP
connection with a short timeout, whatever happened last time (refused,
timed out, answered), as Prometheus does with pods that crashed: a target
that times out does not delay the others' rounds. Prints
``{"ok": N, "refused": N, "timeout": N, "rounds": N}``.
"""

import argparse
import json
import socket
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor


def poll(target: str, port: int, timeout: float) -> str:
    """One request: "ok", "refused" or "timeout"."""
    try:
        with socket.create_connection((target, port), timeout=timeout) as conn:
            conn.sendall(f"GET / HTTP/1.0\r\nHost: {target}\r\n\r\n".encode())
            while conn.recv(4096):
                pass
        return "ok"
    except ConnectionRefusedError:
        return "refused"
    except OSError:
        return "timeout"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", required=True, help="comma-separated addresses")
    parser.add_argument("--port", type=int, default=80)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between rounds")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--timeout", type=float, default=0.5)
    args = parser.parse_args()
    targets = args.targets.split(",")
    results, rounds, start = Counter(), 0, time.monotonic()
    with ThreadPoolExecutor(len(targets)) as pool:
        while time.monotonic() - start < args.seconds:
            began = time.monotonic()
            results.update(pool.map(lambda t: poll(t, args.port, args.timeout), targets))
            rounds += 1
            time.sleep(max(0.0, args.interval - (time.monotonic() - began)))
    print(
        json.dumps(
            {
                "ok": results["ok"],
                "refused": results["refused"],
                "timeout": results["timeout"],
                "rounds": rounds,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
