"""``taplab controller run [APP ...]``: an os-ken controller in a managed process."""

import time

from taplab.commands import subcommand
from taplab.controllers import runtime
from taplab.controllers.api_client import load_lambdas, read_lambda_file
from taplab.errors import UserError
from taplab.lab import Lab
from taplab.output import console, print_json, progress
from taplab.procs import ProcessId

MIRROR_APP = "taplab.controllers.mirror"


def register(sub) -> None:
    p = subcommand(
        sub,
        "controller",
        "run os-ken/Ryu controller apps",
        [
            "sudo taplab controller run ryu.app.simple_switch_13",
            "sudo taplab controller run ryu.app.ofctl_rest ryu.app.simple_switch_13",
            "sudo taplab controller run ryu.app.rest_topology --observe-links",
            "sudo taplab controller run my_app.py --port 6633",
            "sudo taplab controller run --lambda synflood.py",
            "sudo taplab controller run --mirror s1-eth1:s1-eth3",
        ],
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    r = subcommand(
        actions,
        "run",
        "start apps (default: learning switch + lambda server) until Ctrl-C",
        ["sudo taplab controller run ryu.app.simple_switch_13"],
    )
    r.add_argument("apps", nargs="*", metavar="APP", help="app file or module name")
    r.add_argument("--port", type=int, help="OpenFlow port (default 6653, or a free one)")
    r.add_argument(
        "--wsapi-port",
        type=int,
        help="port of Ryu's REST API, for apps that use it (default 8080, or a free one)",
    )
    r.add_argument(
        "--wsapi-host",
        default="0.0.0.0",
        help="address of Ryu's REST API (default 0.0.0.0, as in Ryu)",
    )
    r.add_argument(
        "--observe-links",
        action="store_true",
        help="LLDP link discovery for ryu.topology (get_link), as in ryu-manager",
    )
    r.add_argument("--verbose", action="store_true", help="debug output in the controller log")
    r.add_argument(
        "--lambda",
        dest="lambdas",
        action="append",
        default=[],
        metavar="FILE",
        help="lambda file to load (repeatable; needs the lambda server)",
    )
    r.add_argument(
        "--sample-rate",
        type=float,
        default=0.0,
        help="share of IPv4 flows copied to lambdas as packet_in (0..1)",
    )
    r.add_argument(
        "--poll-interval",
        type=float,
        default=5.0,
        help="seconds between flow/port stats polls for lambdas (>= 1)",
    )
    r.add_argument(
        "--mirror",
        action="append",
        default=[],
        metavar="FROM:TO",
        help="copy what enters port FROM to port TO on every switch (names such "
        "as s1-eth1 or numbers; repeatable; adds the mirror app)",
    )
    r.add_argument(
        "--accept-v1",
        action="store_true",
        help="also accept unauthenticated version 1 telemetry (the published layout)",
    )
    r.add_argument("--json", action="store_true", help="print the endpoints as JSON")
    r.set_defaults(func=run)


def run(args) -> int:
    if not 0 <= args.sample_rate <= 1 or args.poll_interval < 1:
        raise UserError(
            "--sample-rate is a share from 0 to 1 and --poll-interval at least 1 second."
        )
    # A bad app or lambda file fails before the lab exists.
    apps = [runtime.check_app(a) for a in args.apps]
    lambdas = [read_lambda_file(path) for path in args.lambdas]
    mirrors = [_mirror(m) for m in args.mirror]
    if mirrors:
        apps = (apps or list(runtime.DEFAULT_APPS)) + [MIRROR_APP]
    with Lab("controller", debug=args.debug) as lab:
        ryu_args = [
            flag
            for flag, on in (("--observe-links", args.observe_links), ("--verbose", args.verbose))
            if on
        ]
        with progress("starting the controller ..."):
            runtime.start(
                lab,
                apps,
                port=args.port,
                wsapi_port=args.wsapi_port,
                wsapi_host=args.wsapi_host,
                ryu_args=ryu_args,
                sample_rate=args.sample_rate,
                poll_interval=args.poll_interval,
                accept_v1=args.accept_v1,
                mirrors=mirrors,
            )
            load_lambdas(lab, lambdas)
        meta = {"lab": lab.id, **lab.controller}
        if args.json:
            print_json(meta)
        else:
            console.print(
                f"controller of lab {lab.id} listening on 127.0.0.1:"
                f"{meta['openflow_port']}; log {meta['log']}"
            )
            if "wsapi_url" in meta:
                console.print(f"Ryu REST API {meta['wsapi_url']}")
            if lab.has_lambda_server:
                console.print(
                    f"lambda API {meta['api_url']} (token in {meta['token_file']}); "
                    f"telemetry udp/{meta['telemetry_port']}"
                )
            console.print("Ctrl-C stops it.")
        proc_alive = _watch(meta["pid"])
        return 0 if proc_alive else 1


def _mirror(text: str) -> dict:
    source, sep, target = text.partition(":")
    if not (sep and source and target):
        raise UserError(f"--mirror {text}: write FROM:TO, e.g. s1-eth1:s1-eth3.")
    return {"in_port": source, "to_port": target}


def _watch(pid: int) -> bool:
    """Wait until Ctrl-C (True) or until the controller process dies (False)."""
    controller = ProcessId.of(pid)
    try:
        while controller.alive():
            time.sleep(0.5)
    except KeyboardInterrupt:
        return True
    console.print("[red]the controller exited[/]: see its log.")
    return False
