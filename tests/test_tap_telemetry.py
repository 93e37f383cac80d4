"""xdp-flowtable telemetry and collector ``tap`` events reach the lambda server, where a
test lambda sees the counters."""

import pytest

from taplab.controllers import runtime
from taplab.controllers.api_client import ControllerClient
from taplab.lab import Lab
from taplab.taps import session, testbed
from tests.conftest import needs, wait_for
from tests.tap_helpers import DPORT, FAKE, burst, quiet

pytestmark = needs("vxlan", "bcc", "xdp")

BURST = 200
LAMBDA = f"""
from taplab.lambdas import on, Alert

@on("telemetry")
def flow_table(event, ctx):
    d = event.data
    if d.get("dport") == {DPORT}:
        return [Alert("telemetry", src=event.src, dst=event.dst,
                      detail=f"packets={{d['packets']}} empty_udp={{d['empty_udp']}}")]

@on("tap")
def collector(event, ctx):
    d = event.data
    if d.get("dport") == {DPORT}:
        return [Alert("tap", src=event.src, dst=event.dst,
                      detail=f"packets={{d['packets']}} vni={{d['vni']}}")]
"""


@pytest.fixture
def lab():
    with Lab("tap-telemetry") as lab:
        testbed.build(lab)
        runtime.start(lab, [])  # the default apps: learning switch and lambda server
        yield lab


def alerts(client, name: str) -> list[str]:
    return [
        a.get("detail", "")
        for a in client.request("GET", "/actions")["actions"]
        if a.get("name") == name and a.get("dst") == FAKE[0]
    ]


def test_flow_table_telemetry_and_tap_events_reach_a_lambda(lab):
    client = ControllerClient.for_lab(lab)
    client.request("POST", "/lambdas", {"name": "seen", "source": LAMBDA})
    xdp = session.attach(lab, "client", "xdp-flowtable", interval=0.3)
    sidecar = session.attach(lab, "client", "sidecar", collector="collector", vni=77)
    try:
        quiet(lab, sidecar["id"])
        burst(lab, BURST, empty=True)
        expected = f"packets={BURST} empty_udp={BURST}"
        wait_for(
            lambda: expected in alerts(client, "telemetry"),
            timeout=30,
            what="the lambda to see the flow table's counters",
        )
        assert session.stats(lab, xdp["id"])["telemetry_transactions"] > 0
        wait_for(
            lambda: f"packets={BURST} vni=77" in alerts(client, "tap"),
            timeout=30,
            what="the lambda to see the collector's tap event",
        )
    finally:
        session.detach(lab, sidecar["id"])
        session.detach(lab, xdp["id"])
