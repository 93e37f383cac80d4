"""``taplab lambda load|unload|list|stats|logs``: manage a running lab's lambdas."""

from rich.table import Table

from taplab.commands import subcommand
from taplab.controllers.api_client import ControllerClient
from taplab.lab import LabHandle
from taplab.output import console, print_json


def register(sub) -> None:
    p = subcommand(
        sub,
        "lambda",
        "load, unload and watch lambdas in a running lab",
        [
            "sudo taplab lambda load synflood.py",
            "sudo taplab lambda list",
            "sudo taplab lambda logs synflood",
            "sudo taplab lambda stats --json",
        ],
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, help_, example, arg in (
        ("load", "load or replace the lambda in FILE", "synflood.py", "file"),
        ("unload", "unload lambda NAME", "synflood", "name"),
        ("list", "list loaded lambdas and their counters", "", None),
        ("stats", "events, telemetry, actions, latency and per-lambda metrics", "", None),
        ("logs", "log lines (and alerts) of lambda NAME", "synflood", "name"),
    ):
        a = subcommand(actions, name, help_, [f"sudo taplab lambda {name} {example}".rstrip()])
        if arg:
            a.add_argument(arg, metavar=arg.upper())
        a.add_argument("--lab", metavar="ID", help="lab id (default: the only running lab)")
        a.add_argument("--json", action="store_true", help="print JSON")
        a.set_defaults(func=run)


def run(args) -> int:
    client = ControllerClient.for_lab(LabHandle.find(args.lab))
    if args.action == "load":
        reply = client.load_file(args.file)
        message = f"loaded {reply['name']} for {', '.join(reply['kinds'])} events"
    elif args.action == "unload":
        reply = client.unload(args.name)
        message = f"unloaded {args.name}"
    elif args.action == "logs":
        reply = {"name": args.name, "logs": client.logs(args.name)}
        message = "\n".join(reply["logs"]) or f"{args.name} has logged nothing yet"
    elif args.action == "list":
        reply = {"lambdas": client.lambdas()}
        message = _table(reply["lambdas"])
    else:
        reply = client.stats()
        message = _table(reply["lambdas"])
    if args.json:
        print_json(reply)
    else:
        if args.action == "stats":
            _print_stats(reply)
        console.print(message)
    return 0


COUNTERS = (
    "invocations",
    "errors",
    "timeouts",
    "memory",
    "crashes",
    "restarts",
    "queue",
    "dropped",
    "p50_ms",
    "p99_ms",
)


def _table(rows: list[dict]) -> Table:
    headers = [k.replace("_ms", " ms") for k in COUNTERS]
    table = Table("lambda", "state", "kinds", *headers, title="lambdas")
    for r in rows:
        table.add_row(r["name"], r["state"], ", ".join(r["kinds"]), *(str(r[k]) for k in COUNTERS))
    return table


def _print_stats(stats: dict) -> None:
    events = stats["events"]
    received = ", ".join(f"{k} {v}" for k, v in sorted(events["received"].items())) or "none"
    console.print(
        f"events received: {received}; delivered {events['delivered']}, dropped {events['dropped']}"
    )
    tele = ", ".join(f"{k} {v}" for k, v in sorted(stats["telemetry"].items())) or "none"
    console.print(f"telemetry: {tele}")
    d = stats["dispatch_ms"]
    console.print(
        f"actions {stats['actions']} (errors {stats['action_errors']}); dispatch "
        f"latency p50 {d['p50']} ms, p99 {d['p99']} ms over {d['samples']} actions"
    )
