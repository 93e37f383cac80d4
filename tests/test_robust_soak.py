"""Soak: a lab with lambdas under 1,000 connects/s to its API and telemetry port for 60 s.
Afterwards the controller's threads, descriptors and memory are back to their baseline,
and the lab still forwards and its lambdas still act."""

import os
import socket
import threading
import time

import pytest

from taplab.controllers.api_client import ControllerClient
from taplab.controllers.telemetry import V2, FlowRecord, TelemetrySender, build, flow_event
from taplab.lab import Lab
from tests.conftest import needs, wait_for

pytestmark = needs("ovs_user")

SOAK_SECONDS = 60
RATE = 1000  # connects per second: half to the API, half datagrams to the telemetry port
RSS_SLACK_MB = 32  # the allocator keeps some freed memory; a leak grows without bound

LAMBDA = """
from taplab.lambdas import on, Alert

@on("tap", "telemetry")
def seen(event, ctx):
    if ctx.store.incr(event.kind) == 1 or event.src == "10.7.7.7":
        return Alert("seen-" + event.kind, src=event.src)
"""


def usage(pid: int) -> dict:
    status = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status"))
    return {
        "threads": int(status["Threads"]),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
        "rss_mb": int(status["VmRSS"].split()[0]) / 1024,
    }


def paced(rate: float, until: float, work) -> int:
    """Call work() rate times a second until the monotonic time until; return the count."""
    done, start = 0, time.monotonic()
    while (now := time.monotonic()) < until:
        ahead = start + done / rate - now
        if ahead > 0:
            time.sleep(ahead)
        work(done)
        done += 1
    return done


def api_connect(port: int, i: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        if i % 2:  # every other connection asks for /health; the rest connect and close
            s.sendall(b"GET /health HTTP/1.0\r\n\r\n")
            while s.recv(4096):
                pass


@pytest.mark.timeout(SOAK_SECONDS * 4 + 120)
def test_a_lab_under_1000_connects_per_second_returns_to_its_baseline():
    with Lab("soak", controller_apps=[]) as lab:
        switch = lab.add_switch("s1", kind="ovs")
        for i in (1, 2):
            lab.add_link(lab.add_host(f"pod{i}", ip=f"10.0.0.{i}/24"), switch)
        lab.start()
        client = ControllerClient.for_lab(lab)
        client.request("POST", "/lambdas", {"name": "seen", "source": LAMBDA})
        meta = lab.meta["controller"]
        pid, api_port = meta["pid"], int(meta["api_url"].rsplit(":", 1)[1])
        key = TelemetrySender.for_lab(lab, switch_id=1).key
        telemetry = ("127.0.0.1", meta["telemetry_port"])
        event = flow_event(FlowRecord("10.0.0.1", "10.0.0.2", 6, 1000, 80, 1, 60))
        assert lab.net.pingAll(timeout=1) == 0
        time.sleep(2)
        baseline = usage(pid)

        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

        def datagram(i: int) -> None:  # new senders, replays, forgeries and junk
            kind = i % 4
            data = (
                build(V2, 10_000 + i, 1, [event], key, epoch=1)
                if kind == 0
                else build(V2, 10_000 + i - 1, 1, [event], key, epoch=1)
                if kind == 1
                else build(V2, i, 1, [event], b"x" * 32, epoch=1)
                if kind == 2
                else os.urandom(i % 200)
            )
            udp.sendto(data, telemetry)

        until = time.monotonic() + SOAK_SECONDS
        counts: dict[str, int] = {}
        workers = [
            threading.Thread(target=lambda n=n, f=f, r=r: counts.__setitem__(n, paced(r, until, f)))
            for n, f, r in (
                ("api-a", lambda i: api_connect(api_port, i), RATE / 4),
                ("api-b", lambda i: api_connect(api_port, i), RATE / 4),
                ("telemetry", datagram, RATE / 2),
            )
        ]
        started = time.monotonic()
        for w in workers:
            w.start()
        peak = dict(baseline)
        while any(w.is_alive() for w in workers):
            now = usage(pid)
            peak = {k: max(peak[k], now[k]) for k in peak}
            time.sleep(1)
        for w in workers:
            w.join()
        rate = sum(counts.values()) / (time.monotonic() - started)
        udp.close()
        load = os.getloadavg()[0]

        def settled() -> dict | None:
            now = usage(pid)
            back = (
                now["threads"] <= baseline["threads"]
                and now["fds"] <= baseline["fds"]
                and now["rss_mb"] <= baseline["rss_mb"] + RSS_SLACK_MB
            )
            return now if back else None

        after = wait_for(
            settled,
            timeout=30,
            what=f"threads, descriptors and memory back to {baseline} (now {usage(pid)})",
        )
        print(
            f"\nsoak: {rate:.0f} connects/s for {SOAK_SECONDS} s (load {load:.1f}); "
            f"baseline {baseline}, peak {peak}, after {after}"
        )
        assert rate >= RATE * 0.5, f"only {rate:.0f} connects/s (load average {load:.1f})"
        stats = client.request("GET", "/stats")
        assert stats["telemetry"]["replayed"] > 0 and stats["telemetry"]["forged"] > 0
        assert stats["telemetry"].get("evicted", 0) > 0  # more senders than the replay state
        client.request("POST", "/events", {"kind": "tap", "src": "10.7.7.7"})
        wait_for(
            lambda: any(
                a.get("src") == "10.7.7.7" for a in client.request("GET", "/actions")["actions"]
            ),
            timeout=10,
            what="the lambda to act after the soak",
        )
        assert lab.net.pingAll(timeout=1) == 0
