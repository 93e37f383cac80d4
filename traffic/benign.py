"""Benign traffic with ground truth: iperf3 flows, HTTP load, the busy-but-benign client.

    iperf_flow(lab, "pod3", "pod2", seconds=5, rate="20M")
    server = http_server(lab, "pod2", port=80, error_ratio=0.1)
    http_load(lab, "pod3", "pod2", port=80, rate=200, concurrency=20, seconds=5)
    busy_client(lab, "pod4", "pod2", port=80, rate=100, seconds=5)

Each generator blocks for its run and returns its ``GroundTruth``, already
written (lab workdir and ``out``).
"""

from taplab.errors import UserError
from taplab.measure import iperf3, iperf3_client_argv, node_ip
from taplab.rowlog import ProcessLog, start_module
from taplab.traffic import groundtruth
from taplab.traffic.groundtruth import GroundTruth
from taplab.traffic.running import (
    command,
    python_module,
    record,
    require_positive,
    run_logged,
)


def iperf_flow(
    lab,
    client: str,
    server: str,
    seconds: float = 5,
    rate: str | None = "20M",
    port: int = 5201,
    kind: str = "iperf3",
    out=None,
) -> GroundTruth:
    """One iperf3 TCP flow (taplab.measure's iperf3 --json); kind names it in the ground truth."""
    require_positive(seconds=seconds)
    target = node_ip(lab, server)
    argv = iperf3_client_argv(target, port, seconds, rate)
    truth = GroundTruth(
        kind,
        False,
        client,
        [node_ip(lab, client)],
        [target],
        [port],
        "iperf3",
        command(argv),
        rate=None,
        rate_unit="Mb/s",
    )
    result = iperf3(lab, client, server, seconds, rate, port=port)
    truth.rate = round(result.mbps, 2)
    truth.details = result.as_dict()
    groundtruth.write(lab, truth, out)
    return truth


def check_error_ratio(error_ratio: float) -> None:
    if not 0 <= error_ratio <= 1:
        raise UserError(f"--error-ratio must be between 0 and 1, got {error_ratio}.")


def http_server(lab, node: str, port: int = 80, error_ratio: float = 0.0) -> ProcessLog:
    """Start the HTTP server (200, or 500 for error_ratio of requests) in node."""
    check_error_ratio(error_ratio)
    lab.set_meta(
        http_servers={
            **lab.meta.get("http_servers", {}),
            node: {"port": port, "error_ratio": error_ratio},
        }
    )
    return start_module(
        lab,
        node,
        "taplab.traffic.httpserver",
        "http",
        "--port",
        str(port),
        "--error-ratio",
        str(error_ratio),
    )


def http_load(
    lab,
    client: str,
    server: str,
    port: int = 80,
    rate: float = 200,
    concurrency: int = 20,
    seconds: float = 5,
    new_connections: bool = False,
    kind: str = "http",
    out=None,
) -> GroundTruth:
    """Run the HTTP load client against server's HTTP server."""
    require_positive(rate=rate, concurrency=concurrency, seconds=seconds)
    target = node_ip(lab, server)
    argv = python_module(
        "taplab.traffic.httpload",
        "--url",
        f"http://{target}:{port}/",
        "--rate",
        str(rate),
        "--concurrency",
        str(concurrency),
        "--seconds",
        str(seconds),
    )
    argv += ["--new-connections"] if new_connections else []
    run = run_logged(lab, client, argv, seconds + 15, kind)
    return record(
        lab,
        run,
        kind,
        False,
        [target],
        [port],
        "taplab httpload",
        rate,
        "requests/s",
        out,
        details={"concurrency": concurrency, **run.summary()},
    )


def busy_client(
    lab, client: str, server: str, port: int = 80, rate: float = 100, seconds: float = 5, out=None
) -> GroundTruth:
    """Many short, successful connections to one service: the classic false-positive trap."""
    return http_load(
        lab, client, server, port, rate, 1, seconds, new_connections=True, kind="busy", out=out
    )
