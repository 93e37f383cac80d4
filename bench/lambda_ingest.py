"""``taplab bench lambda``: telemetry ingest and dispatch latency of the lambda server.

Reproduces the lambda-functions thesis (2021; docs/experiments.md): a switch agent sends flow-record
events over the telemetry protocol (version 2 here: HMAC and replay window on
every transaction) to the lambda server, without ACK and stop-and-wait with
ACK at 1, 3 and 5 % loss injected in user space (this kernel has no netem).
Ingest is the number of events the server accepted during the window, scaled
to 2 s, next to the published figures. Dispatch latency is measured from a
transaction's arrival at the server to the recorded action of a lambda that
answers every 500th record with an Alert. The agent sends flat out, so without
ACK the offered load exceeds what one lambda worker can take on two shared
cores: latency then includes the wait in the worker's bounded queue, and the
transactions it could not queue are counted as dropped (ingest counts them:
the server received and checked them).
"""

import os
import threading
import time

from rich.table import Table

from taplab import ready
from taplab.controllers import runtime
from taplab.controllers.api_client import ControllerClient
from taplab.controllers.lambda_supervisor import percentile_ms
from taplab.controllers.telemetry import TelemetrySender
from taplab.controllers.telemetry_agent import SyntheticFlows, TelemetryAgent
from taplab.lab import Lab
from taplab.output import console, fold, print_json, progress
from taplab.report import report_dir, write_json

NAME = "lambda"
HELP = "telemetry ingest (events per 2 s, no-ACK and ACK under loss) and dispatch latency"
EXAMPLE = "sudo taplab bench lambda --json"
PUBLISHED = {
    ("noack", 0.0): 900_000,
    ("ack", 0.01): 170_000,
    ("ack", 0.03): 70_000,
    ("ack", 0.05): 35_000,
}
MARK_EVERY = 500
FLOWS_PER_ROUND = 270  # ten full transactions per agent round
BENCH_LAMBDA = f"""
from taplab.lambdas import on, Alert

@on("telemetry")
def marked(event, ctx):
    if event.data["syn"] == {SyntheticFlows.MARK}:
        return [Alert("bench", src=event.src, detail=str(event.dpid))]
"""


def add_arguments(parser) -> None:
    parser.add_argument(
        "--seconds",
        type=float,
        default=2.0,
        help="measuring window per run (figures are scaled to 2 s)",
    )
    parser.add_argument("--short", action="store_true", help="0.5 s windows (quick check)")
    parser.add_argument(
        "--protocol",
        type=int,
        choices=[1, 2],
        default=2,
        help="telemetry version: 2 (HMAC, replay window) or 1 (published layout)",
    )


def measure(
    lab,
    client: ControllerClient,
    switch_id: int,
    mode: str,
    loss: float,
    seconds: float,
    version: int = 2,
) -> dict:
    """One run: an agent sends for `seconds`; the server's counters say what arrived."""
    sender = TelemetrySender.for_lab(lab, switch_id, loss=loss, seed=switch_id, version=version)
    agent = TelemetryAgent(
        sender,
        SyntheticFlows(FLOWS_PER_ROUND, seed=switch_id, mark_every=MARK_EVERY),
        period=0.0,
        ack=mode == "ack",
    )
    before = client.stats()
    started = time.monotonic()
    agent.run(threading.Event(), until=started + seconds)
    elapsed = time.monotonic() - started
    after = client.stats()
    sender.close()
    _wait_drained(client)
    latencies = [
        a["latency_ms"] / 1000 for a in client.actions() if a.get("detail") == str(switch_id)
    ]
    accepted = after["telemetry"]["events"] - before["telemetry"].get("events", 0)
    return {
        "mode": mode,
        "loss": loss,
        "events_per_2s": round(accepted * 2 / elapsed),
        "published_events_per_2s": PUBLISHED[(mode, loss)],
        "events_sent": agent.events_sent,
        "retransmits": sender.retransmits,
        "p50_ms": percentile_ms(latencies, 0.5),
        "p99_ms": percentile_ms(latencies, 0.99),
        "latency_samples": len(latencies),
        "dispatch_dropped_transactions": after["events"]["dropped"] - before["events"]["dropped"],
    }


def _wait_drained(client: ControllerClient, timeout: float = 30.0) -> None:
    """Wait until the bench lambda has worked through its queue."""
    ready.until(lambda: all(w["queue"] == 0 for w in client.lambdas()), timeout, 0.1)


def run(args) -> int:
    seconds = 0.5 if args.short else args.seconds
    with Lab("bench-lambda", debug=args.debug) as lab:
        with progress("starting the lambda server ..."):
            runtime.start(lab, [runtime.LAMBDA_APP], accept_v1=args.protocol == 1)
            client = ControllerClient.for_lab(lab)
            client.load("bench", BENCH_LAMBDA)
        runs = []
        for i, (mode, loss) in enumerate(PUBLISHED, start=1):
            with progress(f"{mode} at {loss:.0%} loss for {seconds:g} s ..."):
                runs.append(measure(lab, client, i, mode, loss, seconds, args.protocol))
        stats = client.stats()
    result = {
        "runs": runs,
        "window_s": seconds,
        "protocol_version": args.protocol,
        "load_average_1min": round(os.getloadavg()[0], 2),
        "lambda": {k: stats["lambdas"][0][k] for k in ("invocations", "dropped")},
        "telemetry_rejected": {
            k: v for k, v in stats["telemetry"].items() if k not in ("events", "transactions")
        },
    }
    folder = report_dir("lambda", args.out)
    write_json(folder, "lambda", result)
    _plot(runs, folder)
    if args.json:
        print_json(result)
    else:
        console.print(_table(runs, seconds, args.protocol))
        console.print(
            f"machine load average (1 min) at the end: "
            f"{result['load_average_1min']} on {os.cpu_count()} CPUs; report: {folder}"
        )
    return 0


def _table(runs: list[dict], seconds: float, version: int) -> Table:
    table = Table(
        "mode",
        "loss",
        "events",
        "published",
        "ratio",
        "retx",
        "p50 ms",
        "p99 ms",
        "drops",
        caption="published: lambda-functions thesis, 2021 (docs/experiments.md); "
        "events per 2 s; p50/p99: dispatch latency, arrival to action; retx: "
        "retransmissions; drops: transactions the lambda queue refused",
        title=f"lambda server telemetry ingest ({seconds:g} s windows, "
        f"protocol v{version}{' with HMAC' if version == 2 else ''})",
    )
    for r in runs:
        table.add_row(
            r["mode"],
            f"{r['loss']:.0%}",
            f"{r['events_per_2s']:,}",
            f"{r['published_events_per_2s']:,}",
            f"{r['events_per_2s'] / r['published_events_per_2s']:.2f}x",
            str(r["retransmits"]),
            _ms(r["p50_ms"]),
            _ms(r["p99_ms"]),
            str(r["dispatch_dropped_transactions"]),
        )
    return fold(table)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _plot(runs: list[dict], folder) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['mode']} {r['loss']:.0%}" for r in runs]
    xs = range(len(runs))
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.bar([x - 0.2 for x in xs], [r["events_per_2s"] for r in runs], 0.4, label="taplab")
    ax.bar(
        [x + 0.2 for x in xs],
        [r["published_events_per_2s"] for r in runs],
        0.4,
        label="published (thesis, 2021)",
    )
    ax.set_xticks(list(xs), labels)
    ax.set_ylabel("events per 2 s")
    ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    fig.savefig(folder / "lambda.png")
    plt.close(fig)
