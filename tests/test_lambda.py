"""Lambdas: loading errors, the store, telemetry decoding; and on real OVS with the
default controller apps: Block, time and memory limits, raising lambdas, tap and
timer events, stats polling, the CLI and the token-protected API."""

import json
import os
import stat
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from mininet.node import RemoteController

from taplab.controllers import runtime
from taplab.controllers.api_client import ControllerClient
from taplab.controllers.lambda_context import Context, LogBuffer, Store
from taplab.controllers.lambda_worker import (
    LambdaLoadError,
    _Calls,
    _run_batch,
    handlers_of,
    to_events,
)
from taplab.controllers.telemetry import (
    V2,
    FlowRecord,
    TelemetryEvent,
    build,
    flow_event,
)
from taplab.lab import Lab
from taplab.lambdas import Alert, Block
from tests.conftest import needs, taplab, wait_for

POD = {i: f"10.244.1.{i + 1}" for i in (1, 2, 3)}


def test_loading_errors_are_one_sentence():
    with pytest.raises(LambdaLoadError, match=r"bad.py has a syntax error at line 2"):
        handlers_of("bad.py", "x = 1\ndef f(:\n")
    with pytest.raises(LambdaLoadError, match=r"no function decorated with @on"):
        handlers_of("none.py", "def f(event, ctx):\n    pass\n")
    with pytest.raises(LambdaLoadError, match=r"failed while loading: ZeroDivisionError"):
        handlers_of("div.py", "1 / 0\n")
    found = handlers_of(
        "ok.py", "from taplab.lambdas import on\n@on('tap', 'timer')\ndef f(e, c):\n    pass\n"
    )
    assert sorted(found) == ["tap", "timer"]


def test_what_a_lambda_returns_is_checked():
    handlers = handlers_of(
        "mixed.py",
        """
from taplab.lambdas import on, Alert, Block

@on("tap")
def mixed(event, ctx):
    return [Alert("a", src=event.src), "not an action"]

@on("tap")
def generator(event, ctx):
    yield Block(src=event.src, seconds=1)

@on("tap")
def single(event, ctx):
    return Alert("b")
""",
    )
    logs = LogBuffer()
    out = _run_batch(
        handlers, Context("mixed", logs), [("tap", 1.0, None, "10.0.0.7", None, {})], _Calls()
    )
    (arrival, actions), *rest = out["actions"]
    assert arrival == 1.0 and actions == [Alert("a", src="10.0.0.7")]
    assert [a for _, acts in rest for a in acts] == [Block(src="10.0.0.7", seconds=1), Alert("b")]
    assert out["invocations"] == 3 and out["errors"] == 1
    assert "not an action" in logs.take()[0]


def test_store_entries_expire():
    now = [100.0]
    store = Store(clock=lambda: now[0])
    store.set("a", 1, ttl=5)
    store.set("b", 2)
    assert store.incr("n", ttl=2) == 1 and store.incr("n", ttl=2) == 2
    now[0] += 3
    assert store.get("n") is None and "a" in store and len(store) == 2
    now[0] += 3
    assert store.get("a", "gone") == "gone" and store.get("b") == 2


def test_telemetry_items_become_events():
    record = FlowRecord("10.0.0.1", "10.0.0.2", 17, 5000, 53, 4, 200, 0, 0, 3)
    fast = build(V2, 9, 1, [flow_event(record)] * 2, b"k" * 32)
    mixed = build(V2, 9, 2, [flow_event(record), TelemetryEvent(5, b"xy").encode()], b"k" * 32)
    events = to_events(("telemetry_raw", 1.0, 9, None, None, (fast, len(fast) - 40)))
    assert len(events) == 2
    e = events[0]
    assert (e.kind, e.dpid, e.src, e.dst) == ("telemetry", 9, "10.0.0.1", "10.0.0.2")
    assert e.data == {
        "proto": 17,
        "sport": 5000,
        "dport": 53,
        "packets": 4,
        "bytes": 200,
        "syn": 0,
        "rst": 0,
        "empty_udp": 3,
        "event_id": 1,
    }
    slow = to_events(("telemetry_raw", 1.0, 9, None, None, (mixed, len(mixed) - 40)))
    assert slow[0].data == e.data and slow[1].data == {"event_id": 5, "payload": b"xy"}


LAMBDAS = {
    "block_pod1": f'''
from taplab.lambdas import on, Alert, Block

@on("packet_in")
def block(event, ctx):
    if event.src == "{POD[1]}" and event.data["flags"] == "S" and event.data["dport"] == 9999:
        return [Alert("knock", src=event.src), Block(src=event.src, seconds=3)]
''',
    "endless": """
from taplab.lambdas import on

@on("packet_in")
def spin(event, ctx):
    if event.data["dport"] == 7777:
        while True:
            pass
""",
    "stubborn": """
from taplab.lambdas import on

@on("packet_in")
def spin(event, ctx):
    if event.data["dport"] == 7778:
        while True:
            try:
                while True:
                    pass
            except BaseException:
                pass
""",
    "hold": """
from taplab.lambdas import on

@on("packet_in")
def hold(event, ctx):
    if event.data["dport"] == 7779:
        sum(range(10 ** 13))  # one C call: no signal gets through, the heartbeat stops
""",
    "boom": """
from taplab.lambdas import on

@on("packet_in")
def divide(event, ctx):
    if event.data["dport"] == 6666:
        return 1 / 0
""",
    "hog": """
from taplab.lambdas import on

@on("tap")
def hog(event, ctx):
    if event.data.get("hog"):
        ctx.store.set("big", bytearray(2 ** 31))
""",
    "taps": """
from taplab.lambdas import on, Alert

@on("tap", "timer", "flow_stats", "port_stats")
def seen(event, ctx):
    n = ctx.store.incr(event.kind)
    if event.kind == "tap":
        return [Alert("tap-event", src=event.src, detail=str(len(ctx.topology)))]
    if n == 1:
        ctx.log.info("first %s event", event.kind)
""",
}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """pod1..pod3 on one OVS switch run by taplab's default apps, all lambdas loaded."""
    folder = tmp_path_factory.mktemp("lambdas")
    with Lab("lambda-test", controller_apps=[]) as lab:
        switch = lab.add_switch("s1", kind="ovs")
        for i in POD:
            lab.add_link(lab.add_host(f"pod{i}"), switch)
        lab.start()
        for i, ip in POD.items():
            lab.node(f"pod{i}").setIP(f"{ip}/24")
            # TCP through OVS's userspace datapath needs checksums done in software
            lab.sh(f"pod{i}", ["ethtool", "-K", f"pod{i}-eth0", "tx", "off"])
        client = ControllerClient.for_lab(lab)
        for name, source in LAMBDAS.items():
            (folder / f"{name}.py").write_text(source)
            client.load_file(folder / f"{name}.py")
        lab.folder = folder
        yield lab
        workers = subprocess.run(
            ["pgrep", "-P", str(lab.meta["controller"]["pid"])], capture_output=True, text=True
        ).stdout.split()
    assert len(workers) >= len(LAMBDAS) - 1  # "taps" was unloaded by the CLI test
    wait_for(
        lambda: not any(os.path.exists(f"/proc/{pid}") for pid in workers),
        timeout=5,
        what="the lambda workers to exit with their controller",
    )


def syn(lab, pod: int, port: int) -> None:
    """pod sends a TCP SYN to pod2:port (nothing listens: the SYN is what counts)."""
    lab.sh(
        f"pod{pod}",
        [
            "python3",
            "-c",
            "import socket; s = socket.socket(); "
            f"s.settimeout(0.3); s.connect_ex(('{POD[2]}', {port}))",
        ],
        check=False,
    )


def pings(lab, pod: int) -> bool:
    out = lab.sh(f"pod{pod}", ["ping", "-c1", "-W1", POD[2]], check=False)
    return " 0% packet loss" in out


def flat(text: str) -> str:
    """Output with rich's line wrapping undone."""
    return " ".join(text.split())


def lambda_stats(lab, name: str) -> dict:
    rows = ControllerClient.for_lab(lab).request("GET", "/lambdas")["lambdas"]
    return next(r for r in rows if r["name"] == name)


@needs("ovs_user")
def test_block_makes_a_pods_traffic_fail_within_2_s_and_recover_after_expiry(lab):
    assert lab.net.pingAll(timeout=1) == 0
    knocked = time.monotonic()
    syn(lab, 1, 9999)
    wait_for(lambda: not pings(lab, 1), timeout=2, what="pod1's traffic to be blocked")
    assert time.monotonic() - knocked < 2
    assert pings(lab, 3)  # only pod1 is blocked
    wait_for(lambda: pings(lab, 1), timeout=10, what="the block to expire")
    assert time.monotonic() - knocked >= 2
    actions = ControllerClient.for_lab(lab).request("GET", "/actions")["actions"]
    block = next(a for a in actions if a["action"] == "Block")
    assert block["src"] == POD[1] and block["result"]["switches"] and block["latency_ms"] < 2000


@needs("ovs_user")
def test_an_endless_loop_is_stopped_while_pingall_keeps_passing(lab):
    for port in (7777, 7778, 7779):
        syn(lab, 3, port)
    assert lab.net.pingAll(timeout=1) == 0
    wait_for(
        lambda: lambda_stats(lab, "endless")["timeouts"] >= 1,
        timeout=10,
        what="the endless lambda to hit its time limit",
    )
    for name in ("stubborn", "hold"):
        wait_for(
            lambda n=name: lambda_stats(lab, n)["kills"] >= 1,
            timeout=10,
            what=f"{name}, which ignores its time limit, to be killed",
        )
    assert lab.net.pingAll(timeout=1) == 0
    wait_for(
        lambda: lambda_stats(lab, "stubborn")["alive"] and lambda_stats(lab, "hold")["alive"],
        timeout=10,
        what="new workers",
    )
    logs = taplab("lambda", "logs", "endless", "--lab", lab.id)
    assert logs.returncode == 0 and "ran past its time limit" in logs.stdout


@needs("ovs_user")
def test_a_raising_lambda_is_counted_and_reported(lab):
    syn(lab, 3, 6666)
    wait_for(
        lambda: lambda_stats(lab, "boom")["errors"] >= 1, timeout=10, what="the error to be counted"
    )
    logs = taplab("lambda", "logs", "boom", "--lab", lab.id)
    assert "ZeroDivisionError" in logs.stdout
    assert lambda_stats(lab, "block_pod1")["errors"] == 0


@needs("ovs_user")
def test_a_memory_hog_is_stopped_and_its_worker_restarted(lab):
    client = ControllerClient.for_lab(lab)
    client.request("POST", "/events", {"kind": "tap", "data": {"hog": True}})
    wait_for(
        lambda: lambda_stats(lab, "hog")["memory"] >= 1,
        timeout=10,
        what="the memory limit to stop the hog",
    )
    wait_for(lambda: lambda_stats(lab, "hog")["alive"], timeout=10, what="a new worker")


@needs("ovs_user")
def test_tap_timer_and_polled_stats_events_reach_lambdas(lab):
    client = ControllerClient.for_lab(lab)
    reply = client.request(
        "POST", "/events", {"events": [{"kind": "tap", "src": "10.9.9.9", "data": {"bytes": 1}}]}
    )
    assert reply["delivered"] >= 1

    def alert():
        return [
            a
            for a in client.request("GET", "/actions")["actions"]
            if a["action"] == "Alert" and a.get("src") == "10.9.9.9"
        ]

    (record,) = wait_for(alert, timeout=5, what="the tap lambda's alert")
    assert int(record["detail"]) >= 4  # the topology: the switch and three pods
    wait_for(
        lambda: all(
            f"first {k} event" in "\n".join(client.request("GET", "/lambdas/taps/logs")["logs"])
            for k in ("timer", "flow_stats", "port_stats")
        ),
        timeout=15,
        what="timer and polled flow/port stats events",
    )
    stats = client.request("GET", "/stats")
    assert stats["events"]["received"]["packet_in"] > 0 and stats["actions"] >= 1


@needs("ovs_user", "iperf3")
def test_rate_limit_is_an_openflow_meter_that_slows_a_pod(lab):
    lab.popen(["iperf3", "-s", "-p", "5202"], node="pod2", log="iperf3.log")

    def mbps() -> float:
        out = lab.sh("pod3", ["iperf3", "-c", POD[2], "-p", "5202", "-t", "1", "-J"])
        return json.loads(out)["end"]["sum_received"]["bits_per_second"] / 1e6

    wait_for(lambda: ":5202" in lab.sh("pod2", ["ss", "-ltn"]), timeout=5, what="iperf3 to listen")
    free = mbps()
    reply = ControllerClient.for_lab(lab).request(
        "POST", "/actions", {"type": "RateLimit", "src": POD[3], "kbps": 2000, "seconds": 30}
    )
    assert reply["result"]["switches"]
    limited = mbps()
    assert limited < free / 5 and limited < 10, (free, limited)


@needs("ovs_user")
def test_lambda_cli_and_token_protected_api(lab):
    folder = lab.folder
    (folder / "syntax.py").write_text("from taplab.lambdas import on\n@on('tap'\n")
    (folder / "plain.py").write_text("def f(event, ctx):\n    return []\n")
    bad = taplab("lambda", "load", str(folder / "syntax.py"), "--lab", lab.id)
    assert bad.returncode == 2 and "syntax error at line 2" in flat(bad.stderr)
    assert "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) <= 2
    none = taplab("lambda", "load", str(folder / "plain.py"), "--lab", lab.id)
    assert none.returncode == 2 and "no function decorated with @on" in flat(none.stderr)
    ok = taplab("lambda", "load", str(folder / "taps.py"), "--lab", lab.id)
    assert ok.returncode == 0 and "loaded taps" in ok.stdout
    listed = taplab("lambda", "list", "--lab", lab.id, "--json")
    assert '"name": "taps"' in listed.stdout
    assert "dispatch latency" in taplab("lambda", "stats", "--lab", lab.id).stdout
    assert taplab("lambda", "unload", "taps", "--lab", lab.id).returncode == 0
    gone = taplab("lambda", "unload", "taps", "--lab", lab.id)
    assert gone.returncode == 2 and "no lambda named 'taps'" in flat(gone.stderr)

    meta = lab.meta["controller"]
    assert stat.S_IMODE(os.stat(meta["token_file"]).st_mode) == 0o600
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{meta['api_url']}/stats", timeout=5)
    assert err.value.code == 401
    wrong = ControllerClient(meta["api_url"], "not-the-token", lab.id)
    with pytest.raises(Exception, match="token"):
        wrong.request("GET", "/lambdas")


@needs("ovs_user")
def test_taplab_lab_preloads_lambda_files(tmp_path):
    good, bad = tmp_path / "watch.py", tmp_path / "broken.py"
    good.write_text(LAMBDAS["taps"])
    bad.write_text("from taplab.lambdas import on\n@on('tap')\ndef f(e, c)\n")
    refused = taplab(
        *"lab cluster --switch ovs --nodes 1".split(), "--lambda", str(bad), "--run", "pingall"
    )
    assert refused.returncode == 2 and "broken.py has a syntax error at line 3" in flat(
        refused.stderr
    )
    cluster = "lab cluster --switch ovs --nodes 1 --pods 2".split()
    ran = taplab(*cluster, "--lambda", str(good), "--run", "pod1 ping -c1 pod2")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert " 0% packet loss" in ran.stdout + ran.stderr


@needs("ovs_user")
def test_sampled_packet_in_reaches_lambdas_with_the_published_schema():
    with Lab("sampling") as lab:
        port = runtime.start(lab, [], sample_rate=1.0)
        controller = lab.net.addController(
            lab.root_name("c0"), controller=RemoteController, ip="127.0.0.1", port=port
        )
        lab.record_shell(controller)  # Mininet's shell for the controller node
        switch = lab.add_switch("s1", kind="ovs")
        for i in (1, 2):
            lab.add_link(lab.add_host(f"pod{i}"), switch)
        lab.start()
        for i in (1, 2):
            lab.node(f"pod{i}").setIP(f"{POD[i]}/24")
        client = ControllerClient.for_lab(lab)
        client.request("POST", "/lambdas", {"name": "udp", "source": UDP_ALERT})
        lab.sh(
            "pod1",
            [
                "python3",
                "-c",
                "import socket; s = socket.socket(socket.AF_INET, "
                f"socket.SOCK_DGRAM); [s.sendto(b'x', ('{POD[2]}', 5000 + i)) "
                "for i in range(5)]",
            ],
        )

        def udp_alerts():
            return sorted(
                int(a["detail"])
                for a in client.request("GET", "/actions")["actions"]
                if a["action"] == "Alert"
            )

        assert wait_for(
            lambda: udp_alerts() == [5000, 5001, 5002, 5003, 5004],
            timeout=5,
            what="one packet_in per UDP datagram",
        )


UDP_ALERT = f'''
from taplab.lambdas import on, Alert

@on("packet_in")
def udp(event, ctx):
    d = event.data
    if d["proto"] == "udp" and event.src == "{POD[1]}" and event.dst == "{POD[2]}":
        assert d["flags"] == "" and d["sport"] > 0 and d["in_port"] == 1 and d["len"] >= 43
        return Alert("udp", src=event.src, detail=str(d["dport"]))
'''
