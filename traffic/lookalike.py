"""Benign traffic that looks like an attack, with ground truth: none of it may raise an alert.

    ab_load(lab, "pod3", "pod1", concurrency=50, seconds=60)        # thousands of requests/s
    scraper(lab, "pod4", ["pod1", "pod2", "10.244.1.200"], port=80)  # polls dead pods too
    retry_client(lab, "pod5", "pod1", port=8443)                     # a service that is down
    dns_client(lab, "pod6", ["pod7", "pod8", "pod9"], rate=200)      # UDP to many servers
    backup_flow(lab, "pod10", "pod1", seconds=60, rate="40M")        # one long flow
    mesh_checker(lab, ["pod11", "pod12", "pod13", "pod14"])          # everyone checks everyone

Each blocks for its run and returns its ``GroundTruth`` (``malicious`` false),
already written to the lab's workdir and ``out``.
"""

import re
from concurrent.futures import ThreadPoolExecutor

from taplab import capabilities
from taplab.measure import node_ip
from taplab.rowlog import start_module
from taplab.traffic import benign, groundtruth
from taplab.traffic.groundtruth import GroundTruth
from taplab.traffic.running import (
    python_module,
    record,
    require_positive,
    run_logged,
)


def _run(
    lab,
    kind: str,
    client: str,
    argv: list[str],
    seconds: float,
    targets: list[str],
    ports: list[int],
    tool: str,
    rate=None,
    rate_unit="",
    out=None,
    details: dict | None = None,
) -> GroundTruth:
    """Run argv in client for about seconds; write and return its benign ground truth."""
    run = run_logged(lab, client, argv, seconds + 15, kind)
    details = {**(details or {}), **run.summary()}
    details.setdefault("log", run.text[-2000:])
    return record(
        lab, run, kind, False, targets, ports, tool, rate, rate_unit, out, details=details
    )


def ab_load(
    lab,
    client: str,
    server: str,
    port: int = 80,
    concurrency: int = 50,
    seconds: float = 60,
    out=None,
) -> GroundTruth:
    """ApacheBench: as many requests as the server takes, concurrency at a time, new
    connection each (no keep-alive)."""
    capabilities.require("ab")
    require_positive(concurrency=concurrency, seconds=seconds)
    target = node_ip(lab, server)
    argv = [
        "ab",
        "-q",
        "-r",
        "-s",
        "5",
        "-c",
        str(concurrency),
        "-t",
        f"{seconds:g}",
        "-n",
        "100000000",
        f"http://{target}:{port}/",
    ]
    truth = _run(
        lab,
        "ab",
        client,
        argv,
        seconds,
        [target],
        [port],
        "ab",
        None,
        "requests/s",
        out,
        {"concurrency": concurrency},
    )
    text = truth.details.get("log", "")
    rps = re.search(r"Requests per second:\s+([\d.]+)", text)
    done = re.search(r"Complete requests:\s+(\d+)", text)
    truth.rate = float(rps.group(1)) if rps else None
    truth.details["complete"] = int(done.group(1)) if done else None
    groundtruth.write(lab, truth, out)
    return truth


def _poller(
    lab,
    kind: str,
    client: str,
    targets: list[str],
    port: int,
    interval: float,
    seconds: float,
    out=None,
    details: dict | None = None,
) -> GroundTruth:
    require_positive(interval=interval, seconds=seconds)
    addresses = [a for t in targets for a in groundtruth.resolve(lab, t)[:1]]
    argv = python_module(
        "taplab.traffic.poller",
        "--targets",
        ",".join(addresses),
        "--port",
        str(port),
        "--interval",
        str(interval),
        "--seconds",
        str(seconds),
    )
    return _run(
        lab,
        kind,
        client,
        argv,
        seconds,
        addresses,
        [port],
        "taplab poller",
        1 / interval,
        "rounds/s",
        out,
        details,
    )


def scraper(
    lab,
    client: str,
    targets: list[str],
    port: int = 80,
    interval: float = 1.0,
    seconds: float = 60,
    out=None,
) -> GroundTruth:
    """A monitoring scraper polling every target each interval, serving or not."""
    return _poller(lab, "scraper", client, targets, port, interval, seconds, out)


def retry_client(
    lab, client: str, server: str, port: int, interval: float = 1.0, seconds: float = 60, out=None
) -> GroundTruth:
    """A client retrying, every interval, a service that is down (nothing listens)."""
    return _poller(lab, "retry", client, [server], port, interval, seconds, out)


def dns_client(
    lab,
    client: str,
    servers: list[str],
    port: int = 5353,
    rate: float = 100,
    seconds: float = 60,
    out=None,
) -> GroundTruth:
    """DNS-like queries from fresh source ports, round-robin to servers (started here)."""
    require_positive(rate=rate, seconds=seconds)
    daemons = [
        start_module(lab, s, "taplab.traffic.udpquery", "udpserve", "serve", "--port", str(port))
        for s in servers
    ]
    try:
        addresses = [node_ip(lab, s) for s in servers]
        argv = python_module(
            "taplab.traffic.udpquery",
            "query",
            "--servers",
            ",".join(addresses),
            "--port",
            str(port),
            "--rate",
            str(rate),
            "--seconds",
            str(seconds),
        )
        return _run(
            lab,
            "dns",
            client,
            argv,
            seconds,
            addresses,
            [port],
            "taplab udpquery",
            rate,
            "queries/s",
            out,
        )
    finally:
        for daemon in daemons:
            daemon.stop()


def backup_flow(
    lab, client: str, server: str, seconds: float = 60, rate: str = "40M", out=None
) -> GroundTruth:
    """One long iperf3 TCP flow, as a backup job streams its archive."""
    return benign.iperf_flow(lab, client, server, seconds, rate, port=5202, kind="backup", out=out)


def mesh_checker(
    lab, pods: list[str], port: int = 15021, interval: float = 1.0, seconds: float = 60, out=None
) -> GroundTruth:
    """Every pod serves a health endpoint (Istio's port by default) and polls every other
    pod's each interval."""
    servers = [benign.http_server(lab, p, port=port) for p in pods]
    try:
        with ThreadPoolExecutor(len(pods)) as pool:
            runs = list(
                pool.map(
                    lambda p: _poller(
                        lab, "mesh-member", p, [q for q in pods if q != p], port, interval, seconds
                    ),
                    pods,
                )
            )
    finally:
        for server in servers:
            server.stop()
    truth = GroundTruth(
        "mesh-health",
        False,
        ",".join(pods),
        [node_ip(lab, p) for p in pods],
        [node_ip(lab, p) for p in pods],
        [port],
        "taplab poller",
        runs[0].command,
        len(pods) * (len(pods) - 1) / interval,
        "checks/s",
        min(r.start for r in runs),
        max(r.end for r in runs),
        details={"members": {r.attacker: r.details for r in runs}},
    )
    groundtruth.write(lab, truth, out)
    return truth
