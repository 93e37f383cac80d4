"""``taplab demo``: the whole testbed in a few minutes, then a report.

Builds the default cluster with the controller and the detector lambdas, taps
the web pod, runs benign traffic, a SYN flood and a port scan while a live
view shows rates, tap counters, alerts and actions, then writes the report
(JSON, PNG, Markdown) and removes everything it built.
"""

import sys
from contextlib import nullcontext

from rich.live import Live

from taplab.commands import subcommand
from taplab.demo import report as demo_report
from taplab.demo.liveview import LiveView, Sampler
from taplab.demo.scenario import Demo, Options
from taplab.lab import Lab
from taplab.labcli import LabCLI
from taplab.output import console, errors, print_json
from taplab.report import report_dir
from taplab.taps import session


def register(sub) -> None:
    p = subcommand(
        sub,
        "demo",
        "the whole testbed at work: a cluster, a tap, traffic, "
        "attacks detected and blocked, and a report",
        [
            "sudo taplab demo",
            "sudo taplab demo --json --out /tmp/reports",
            "sudo taplab demo --interactive     (the lab CLI once the report is out)",
            "sudo taplab demo --tap tc-mirred   (a kernel mirror instead of the sidecar)",
            "sudo make demo",
        ],
    )
    p.add_argument(
        "--interactive",
        action="store_true",
        help="open the lab CLI on the demo's lab after the report",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--out", metavar="DIR", help="report folder (default ./reports)")
    p.add_argument(
        "--tap",
        default="sidecar",
        choices=sorted(session.kinds()),
        help="tap kind on the web pod (default sidecar, the published design)",
    )
    p.add_argument(
        "--switch",
        choices=["ovs", "lxbr"],
        default="ovs",
        help="ovs (default): OVS switches with the controller and lambda server; "
        "lxbr: Linux bridges, no controller, so nothing can block the attacker",
    )
    p.set_defaults(func=run)


def run(args) -> int:
    # With --json, stdout carries only the JSON; the live view goes to stderr.
    screen = errors if args.json else console
    apps = [] if args.switch == "ovs" else None  # [] = taplab's default apps
    with Lab("demo", debug=args.debug, controller_apps=apps) as lab:
        view = LiveView([f"lab {lab.id}: building ..."], list(Demo.STEPS))
        demo = Demo(lab, view, Options(tap=args.tap, switch=args.switch, debug=args.debug))
        live = (
            Live(view, console=screen, refresh_per_second=4, transient=False)
            if screen.is_terminal
            else nullcontext()
        )
        if not screen.is_terminal:
            view.echo = screen.print
            screen.print(f"lab {lab.id}: the demo starts")
        with Sampler(demo.sample) as sampler, live:
            view.sampler = sampler
            demo.run()
        report = demo.report()
        folder = report_dir("demo", args.out)
        report["report_dir"] = str(folder)
        demo_report.write(folder, report, sampler.history)
        screen.print(demo_report.tables(report))
        screen.print(f"report: [bold]{folder}[/] (demo.json, timeline.png, summary.md)")
        if args.interactive:
            screen.print(
                f"lab {lab.id} is still up: type [bold]help[/] for commands, "
                "[bold]exit[/] to tear it down."
            )
            LabCLI(lab, stdout=sys.stderr if args.json else None).interact()
    if args.json:
        print_json(report)
    failed = [s for s in report["steps"] if s["status"] != "done"]
    missed = [a for a in report["attacks"] if not a["detected"]]
    return 1 if failed or missed else 0
