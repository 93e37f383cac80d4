"""TCP request/response latency, as netperf's TCP_RR measures it: one connection,
a request of ``--request`` bytes answered by ``--response`` bytes, one at a time.
Neither sockperf nor qperf sends responses of another size than the request;
this does (100-byte requests, 200-byte responses, as the eBPF report did).

    python -m taplab.bench.rr serve --port 7100            # in the server pod
    python -m taplab.bench.rr run --host 10.0.1.3 --port 7100 --seconds 3
    {"transactions": 41234, "mean_us": 72.1, "p50_us": 70.3, "p99_us": 98.4}

In a lab: ``start_server(lab, "c2")``, then ``between(lab, "c1", "10.0.1.3", 3)``.

The times include the Python loop at both ends (tens of µs): compare points of
one run, as ratios, rather than with netperf's absolute figures.
"""

import argparse
import json
import socket
import statistics
import subprocess
import sys
import time

from taplab.errors import UserError
from taplab.shell import in_netns

REQUEST, RESPONSE = 100, 200
PORT = 7100


def _read(conn: socket.socket, size: int) -> bool:
    """Read exactly size bytes; False when the peer closed."""
    got = 0
    while got < size:
        chunk = conn.recv(size - got)
        if not chunk:
            return False
        got += len(chunk)
    return True


def serve(port: int, request: int, response: int) -> None:
    """Answer every request of every connection, one connection at a time, forever."""
    listener = socket.create_server(("0.0.0.0", port), reuse_port=True)
    answer = b"r" * response
    while True:
        conn, _ = listener.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with conn:
            while _read(conn, request):
                conn.sendall(answer)


def measure(
    host: str, port: int, seconds: float, request: int, response: int, connect_timeout: float = 10.0
) -> dict:
    """Transactions for seconds on one connection: count and latency percentiles (µs)."""
    deadline = time.monotonic() + connect_timeout
    while True:
        try:
            conn = socket.create_connection((host, port), timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    payload, times = b"q" * request, []
    with conn:
        end = time.perf_counter() + seconds
        now = time.perf_counter()
        while now < end:
            conn.sendall(payload)
            if not _read(conn, response):
                raise ConnectionError("the server closed the connection")
            later = time.perf_counter()
            times.append(later - now)
            now = later
    times.sort()
    return {
        "transactions": len(times),
        "mean_us": round(1e6 * statistics.fmean(times), 2),
        "p50_us": percentile_us(times, 0.5),
        "p99_us": percentile_us(times, 0.99),
    }


def percentile_us(ordered: list[float], q: float) -> float:
    """The q-quantile (nearest rank) of ordered seconds, in µs."""
    return round(1e6 * ordered[min(int(q * len(ordered)), len(ordered) - 1)], 2)


def start_server(lab, node: str, port: int = PORT) -> None:
    """An RR server in node for the rest of the lab (the lab stops it)."""
    lab.popen(
        [sys.executable, "-m", "taplab.bench.rr", "serve", "--port", str(port)],
        node=node,
        log=f"rr-{node}.log",
        grace=1.0,
    )


def between(lab, client: str, target: str, seconds: float, port: int = PORT) -> dict:
    """measure() from node client to the RR server at target."""
    proc = subprocess.run(
        in_netns(
            [
                sys.executable,
                "-m",
                "taplab.bench.rr",
                "run",
                "--host",
                target,
                "--port",
                str(port),
                "--seconds",
                str(seconds),
            ],
            lab.netns(client),
        ),
        capture_output=True,
        text=True,
        timeout=seconds + 30,
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise UserError(f"the request/response client from {client} to {target} failed: {last}.")
    return json.loads(proc.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["serve", "run"])
    parser.add_argument("--host")
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--request", type=int, default=REQUEST)
    parser.add_argument("--response", type=int, default=RESPONSE)
    args = parser.parse_args()
    if args.mode == "serve":
        serve(args.port, args.request, args.response)
    else:
        print(json.dumps(measure(args.host, args.port, args.seconds, args.request, args.response)))


if __name__ == "__main__":
    main()
