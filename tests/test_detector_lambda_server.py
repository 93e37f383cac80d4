"""End to end through the controller: the detector lambdas loaded into the lambda server
of an OVS lab see real nmap and hping3 traffic as packet_in events and name the attackers."""

from pathlib import Path

import pytest

from taplab import detectors
from taplab.controllers.api_client import ControllerClient
from taplab.lab import Lab
from taplab.measure import node_ip
from taplab.traffic import benign, flood, scan
from tests.conftest import needs, wait_for

pytestmark = [pytest.mark.network, needs("ovs_user", "nmap", "hping3", "iperf3")]


def alerts(client: ControllerClient) -> list[dict]:
    return [a for a in client.request("GET", "/actions")["actions"] if a["action"] == "Alert"]


def ovs_lab(lab, hosts: int) -> None:
    """pod1..podN on one OVS switch controlled by taplab's default apps (with the lambda server)."""
    switch = lab.add_switch("s1", kind="ovs")
    for i in range(1, hosts + 1):
        lab.add_link(lab.add_host(f"pod{i}", ip=f"10.0.0.{i}/24"), switch)
    lab.start()
    for i in range(1, hosts + 1):
        # OVS's userspace datapath forwards veth frames with their checksums still to fill
        # in: without this, pings pass and every TCP handshake fails.
        lab.sh(f"pod{i}", ["ethtool", "-K", f"pod{i}-eth0", "tx", "off"])
    for i in range(2, hosts + 1):  # the switch forwards once the controller has connected
        wait_for(
            lambda i=i: lab.sh("pod1", ["ping", "-c1", "-W1", f"10.0.0.{i}"], check=False).count(
                " 0% packet loss"
            ),
            timeout=30,
            what=f"pod1 to reach pod{i}",
        )


def test_lambda_server_lambdas_detect_nmap_and_hping3_and_stay_quiet_on_benign_traffic():
    with Lab("lambda-detect-test", controller_apps=[]) as lab:
        ovs_lab(lab, 4)
        client = ControllerClient.for_lab(lab)
        folder = Path(detectors.__path__[0])
        for name in ("lambda_scan.py", "lambda_synflood.py"):
            client.load_file(folder / name)
        benign.http_server(lab, "pod2", port=80)
        benign.iperf_flow(lab, "pod4", "pod2", seconds=1, rate="10M")
        benign.http_load(lab, "pod4", "pod2", rate=50, concurrency=5, seconds=2)
        benign.busy_client(lab, "pod3", "pod2", rate=50, seconds=4)
        assert alerts(client) == []

        scanner, flooder = node_ip(lab, "pod1"), node_ip(lab, "pod3")
        scan.nmap_scan(lab, "pod1", "pod2", kind="sS", timing="T4", ports="1000-1100")
        scan_alerts = wait_for(
            lambda: [a for a in alerts(client) if a["name"] == "vertical-scan"],
            timeout=15,
            what="the scan lambda's alert",
        )
        assert [a["src"] for a in scan_alerts] == [scanner]
        flood.syn_flood(lab, "pod3", "pod2", port=80, rate=1000, seconds=2)
        wait_for(
            lambda: any(a["src"] == flooder for a in alerts(client) if a["name"] == "syn-flood"),
            timeout=15,
            what="the syn-flood lambda's alert naming the flooder",
        )
        assert {a["src"] for a in alerts(client)} <= {scanner, flooder}
        blocks = {
            a["src"] for a in client.request("GET", "/actions")["actions"] if a["action"] == "Block"
        }
        assert blocks == {a["src"] for a in alerts(client)}
