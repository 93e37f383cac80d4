"""An HTTP load client: a request rate spread over concurrent connections.

    python -m taplab.traffic.httpload --url http://10.244.1.3/ --rate 200 \\
        --concurrency 20 --seconds 5 [--new-connections]

Each of ``concurrency`` workers sends rate/concurrency requests per second,
over one keep-alive connection, or a new connection per request with
``--new-connections`` (the busy-but-benign client). Prints a JSON summary:
requests, status counts, errors, connections opened.
"""

import argparse
import http.client
import json
import threading
import time
from collections import Counter
from urllib.parse import urlsplit


def worker(
    host: str,
    port: int,
    path: str,
    interval: float,
    until: float,
    fresh: bool,
    stats: Counter,
    lock: threading.Lock,
) -> None:
    conn = None
    next_at = time.monotonic()
    while next_at < until:
        time.sleep(max(0.0, next_at - time.monotonic()))
        next_at += interval
        try:
            if conn is None:
                conn = http.client.HTTPConnection(host, port, timeout=5)
                with lock:
                    stats["connections"] += 1
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            outcome = str(response.status)
        except (OSError, http.client.HTTPException):
            outcome = "errors"
            fresh_now = True
        else:
            fresh_now = fresh
        if fresh_now and conn is not None:
            conn.close()
            conn = None
        with lock:
            stats[outcome] += 1
    if conn is not None:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--rate", type=float, default=100, help="requests per second")
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument(
        "--new-connections", action="store_true", help="open a new connection for every request"
    )
    args = parser.parse_args()
    url = urlsplit(args.url)
    stats, lock = Counter(), threading.Lock()
    until = time.monotonic() + args.seconds
    interval = args.concurrency / args.rate
    threads = [
        threading.Thread(
            target=worker,
            args=(
                url.hostname,
                url.port or 80,
                url.path or "/",
                interval,
                until,
                args.new_connections,
                stats,
                lock,
            ),
        )
        for _ in range(args.concurrency)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    status = {k: v for k, v in stats.items() if k.isdigit()}
    print(
        json.dumps(
            {
                "requests": sum(status.values()) + stats["errors"],
                "status": status,
                "errors": stats["errors"],
                "connections": stats["connections"],
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
