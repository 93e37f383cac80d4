"""Ryu's own apps (from the os-ken 1.4.1 wheel, unmodified) on real OVS labs: switching,
monitoring, REST (ofctl_rest, rest_firewall as in the Ryu book, rest_topology with
--observe-links), OpenFlow 1.4/1.5, a version mismatch and an app that dies at start."""

import json
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from taplab.controllers import ryu_apps
from taplab.controllers.runtime import free_port
from taplab.errors import UserError
from taplab.lab import Lab
from tests.conftest import needs, taplab, wait_for
from tests.test_controller import controller_run, remote_lab


def curl(url: str, method: str = "GET", data: dict | None = None):
    """curl from the root namespace, as the Ryu book does; the JSON answer (or text)."""
    argv = ["curl", "-s", "-f", "-X", method, url]
    if data is not None:
        argv += ["-d", json.dumps(data)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, f"curl {method} {url}: exit {out.returncode} {out.stderr}"
    try:
        return json.loads(out.stdout)
    except ValueError:
        return out.stdout


def hosts_on(lab, switches: list, per_switch: int = 1) -> None:
    """per_switch hosts on each switch (h1, h2, ... 10.0.0.N/24), switches in a line."""
    n = 0
    for switch in switches:
        for _ in range(per_switch):
            n += 1
            lab.add_link(lab.add_host(f"h{n}"), switch)
    for a, b in zip(switches, switches[1:], strict=False):
        lab.add_link(a, b)
    lab.start()
    for i in range(1, n + 1):
        lab.node(f"h{i}").setIP(f"10.0.0.{i}/24")


@contextmanager
def one_switch_lab(apps: list[str], **switch_params):
    """h1, h2 on s1, whose controller runs apps."""
    with Lab("ryu", controller_apps=apps) as lab:
        s1 = lab.add_switch("s1", kind="ovs", **switch_params)
        hosts_on(lab, [s1], per_switch=2)
        yield lab, s1


def pings(lab, src: str, dst_ip: str) -> bool:
    return lab.node(src).cmd(f"ping -c1 -W1 {dst_ip} >/dev/null && echo yes").strip() == "yes"


def blocked(lab, src: str, dst_ip: str) -> bool:
    """Three pings in a row from src to dst_ip all lost."""
    return " 0 received" in lab.node(src).cmd(f"ping -c3 -i0.2 -W1 {dst_ip}")


def dump_flows(switch) -> str:
    return subprocess.run(
        ["ovs-ofctl", "-O", "OpenFlow13", "dump-flows", switch.name], capture_output=True, text=True
    ).stdout


@needs("ovs_user")
@pytest.mark.parametrize(
    "app",
    [
        "ryu.app.example_switch_13",
        "ryu.app.simple_switch_13",
        "ryu.app.simple_switch_14",
        "ryu.app.simple_switch_15",
        "ryu.app.simple_switch_rest_13",
    ],
)
def test_switching_apps_pass_pingall_in_a_cluster_lab(app):
    """14 and 15 speak only OpenFlow 1.4 / 1.5: forwarding proves the bridges accept them."""
    result = taplab(
        "lab",
        "cluster",
        "--switch",
        "ovs",
        "--nodes",
        "1",
        "--pods",
        "2",
        "--controller",
        app,
        "--run",
        "pingall",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0% dropped" in result.stdout + result.stderr


@needs("ovs_user")
def test_a_lab_starts_once_the_controller_has_the_features_of_each_switch():
    """OVS counts itself connected before the controller accepts its OpenFlow version:
    the lab waits for the controller's word instead."""
    with one_switch_lab(["ryu.app.simple_switch_14"]) as (lab, s1):
        log = Path(lab.meta["controller"]["log"]).read_text()
        assert f"switch {s1.dpid.lower()} connected (OpenFlow 1.4)" in log


@needs("ovs_user")
def test_simple_switch_stp_13_forwards_once_ports_forward():
    with one_switch_lab(["ryu.app.simple_switch_stp_13"]) as (lab, _):
        # STP holds ports in LISTEN and LEARN (15 s each) before they forward.
        wait_for(
            lambda: pings(lab, "h1", "10.0.0.2"),
            timeout=90,
            interval=1,
            what="h1 to reach h2 through simple_switch_stp_13",
        )
        assert "FORWARD" in Path(lab.meta["controller"]["log"]).read_text()


@needs("ovs_user")
def test_ryus_own_simple_monitor_13_file_logs_port_statistics():
    app = ryu_apps.fetch() / "simple_monitor_13.py"  # Ryu's file, run as a file
    with one_switch_lab([str(app)]) as (lab, s1):
        assert lab.net.pingAll(timeout=2) == 0
        log = Path(lab.meta["controller"]["log"])
        dpid = s1.dpid.lower()

        # Ryu's table: "datapath port rx-pkts rx-bytes ...", one row per port of s1.
        def port_rows() -> list[str]:
            messages = [line.split(" INFO ")[-1] for line in log.read_text().splitlines()]
            return [m for m in messages if m.startswith(dpid) and len(m.split()) == 8]

        rows = wait_for(port_rows, timeout=40, interval=1, what="port statistics in the log")
        assert "rx-pkts  rx-bytes rx-error tx-pkts  tx-bytes tx-error" in log.read_text()
        ports = {int(row.split()[1], 16) for row in rows}
        assert {1, 2} <= ports
        assert any(int(row.split()[2]) > 0 for row in rows)  # rx-pkts counted the pings


@needs("ovs_user")
def test_ofctl_rest_lists_switches_and_adds_a_flow():
    with one_switch_lab(["ryu.app.simple_switch_13", "ryu.app.ofctl_rest"]) as (lab, s1):
        url = lab.meta["controller"]["wsapi_url"]
        status = json.loads(taplab("status", lab.id, "--json").stdout)
        assert status["controller"]["wsapi_url"] == url  # taplab status shows it
        assert curl(f"{url}/stats/switches") == [int(s1.dpid, 16)]
        flow = {
            "dpid": int(s1.dpid, 16),
            "priority": 4321,
            "match": {"in_port": 1},
            "actions": [{"type": "OUTPUT", "port": 2}],
        }
        curl(f"{url}/stats/flowentry/add", "POST", flow)
        assert "priority=4321,in_port=1 actions=output:2" in dump_flows(s1)
        stats = curl(f"{url}/stats/flow/{int(s1.dpid, 16)}")
        assert any(f["priority"] == 4321 for f in stats[str(int(s1.dpid, 16))])


@needs("ovs_user")
def test_rest_firewall_blocks_then_allows_as_in_the_ryu_book():
    with one_switch_lab(["ryu.app.rest_firewall"]) as (lab, s1):
        url, dpid = lab.meta["controller"]["wsapi_url"], s1.dpid
        enabled = curl(f"{url}/firewall/module/enable/{dpid}", "PUT")
        assert enabled[0]["command_result"]["result"] == "success"
        wait_for(
            lambda: blocked(lab, "h1", "10.0.0.2"),
            timeout=10,
            what="the enabled firewall to block everything",
        )
        for src, dst in (("10.0.0.1", "10.0.0.2"), ("10.0.0.2", "10.0.0.1")):
            added = curl(
                f"{url}/firewall/rules/{dpid}",
                "POST",
                {"nw_src": f"{src}/32", "nw_dst": f"{dst}/32", "nw_proto": "ICMP"},
            )
            assert added[0]["command_result"][0]["result"] == "success"
        assert wait_for(
            lambda: pings(lab, "h1", "10.0.0.2"), timeout=10, what="ICMP allowed by the rules"
        )
        assert not lab.node("h1").cmd("nc -z -w1 10.0.0.2 22; echo $?").strip() == "0"
        rules = curl(f"{url}/firewall/rules/{dpid}")
        assert len(rules[0]["access_control_list"][0]["rules"]) == 2
        curl(f"{url}/firewall/rules/{dpid}", "DELETE", {"rule_id": "all"})
        wait_for(
            lambda: blocked(lab, "h1", "10.0.0.2"),
            timeout=10,
            what="ICMP blocked again once the rules are deleted",
        )


@needs("ovs_user")
def test_rest_topology_with_observe_links_lists_the_links_of_three_switches():
    rest = free_port()
    with controller_run("ryu.app.rest_topology", "--observe-links", "--wsapi-port", str(rest)) as (
        port,
        proc,
    ):
        with remote_lab("ryu-topo", port) as lab:
            switches = [lab.add_switch(f"s{i}", kind="ovs") for i in (1, 2, 3)]
            hosts_on(lab, switches)
            dpids = [s.dpid for s in switches]
            want = {
                (dpids[0], dpids[1]),
                (dpids[1], dpids[0]),
                (dpids[1], dpids[2]),
                (dpids[2], dpids[1]),
            }

            def links():
                got = curl(f"http://127.0.0.1:{rest}/v1.0/topology/links")
                return {(link["src"]["dpid"], link["dst"]["dpid"]) for link in got}

            wait_for(
                lambda: links() == want,
                timeout=40,
                interval=1,
                what="LLDP to discover the 4 directed links",
            )
            found = curl(f"http://127.0.0.1:{rest}/v1.0/topology/switches")
            assert sorted(s["dpid"] for s in found) == sorted(dpids)
    assert proc.returncode == 0


@needs("ovs_user")
def test_a_version_mismatch_ends_the_lab_within_15_s_with_one_sentence():
    with Lab("ryu-mismatch", controller_apps=["ryu.app.simple_switch_15"]) as lab:
        s1 = lab.add_switch("s1", kind="ovs", protocols="OpenFlow13")
        lab.add_link(lab.add_host("h1"), s1)
        started = time.monotonic()  # the switch starts: from here it would hang
        with pytest.raises(UserError) as error:
            lab.start()
        assert time.monotonic() - started < 15
    message = str(error.value)
    assert "did not connect to the controller: " in message
    assert "OpenFlow versions (its OFP_VERSIONS) and the switch's (OpenFlow13)" in message


@needs("ovs_user")
def test_an_app_that_dies_at_start_shows_its_error_and_its_log_stays(tmp_path):
    app = tmp_path / "broken_app.py"
    app.write_text("from ryu.base import app_manager\nraise RuntimeError('boom at import')\n")
    result = taplab(
        "lab",
        "cluster",
        "--switch",
        "ovs",
        "--nodes",
        "1",
        "--pods",
        "1",
        "--controller",
        str(app),
        "--run",
        "pingall",
    )
    message = " ".join(result.stderr.split())
    assert result.returncode == 2, result.stdout + result.stderr
    assert "RuntimeError: boom at import" in message and "Traceback" not in result.stderr
    log = Path(message.split("; see ")[1].rstrip("."))
    assert "boom at import" in log.read_text()  # readable after the lab is gone


@needs("ovs_user")
def test_rest_router_routes_between_two_subnets_after_its_rest_calls():
    with Lab("ryu-router", controller_apps=["ryu.app.rest_router"]) as lab:
        s1 = lab.add_switch("s1", kind="ovs")
        for i in (1, 2):
            lab.add_link(lab.add_host(f"h{i}"), s1)
        lab.start()
        url = lab.meta["controller"]["wsapi_url"]
        for i in (1, 2):
            lab.node(f"h{i}").cmd(
                f"ip addr add 10.0.{i}.2/24 dev h{i}-eth0 && ip route add default via 10.0.{i}.1"
            )
            added = curl(f"{url}/router/{s1.dpid}", "POST", {"address": f"10.0.{i}.1/24"})
            assert added[0]["command_result"][0]["result"] == "success"
        assert wait_for(
            lambda: pings(lab, "h1", "10.0.2.2"),
            timeout=15,
            what="h1 to reach h2 through the router",
        )
        routed = curl(f"{url}/router/{s1.dpid}")[0]["internal_network"][0]["address"]
        assert {a["address"] for a in routed} == {"10.0.1.1/24", "10.0.2.1/24"}


@needs("ovs_user")
def test_simple_switch_rest_13_shows_its_mac_table():
    with one_switch_lab(["ryu.app.simple_switch_rest_13"]) as (lab, s1):
        assert lab.net.pingAll(timeout=2) == 0
        macs = curl(f"{lab.meta['controller']['wsapi_url']}/simpleswitch/mactable/{s1.dpid}")
        assert macs == {lab.node("h1").MAC(): 1, lab.node("h2").MAC(): 2}


@needs("ovs_user")
def test_rest_qos_answers_for_its_switch():
    with one_switch_lab(["ryu.app.rest_qos"]) as (lab, s1):
        url = lab.meta["controller"]["wsapi_url"]
        assert curl(f"{url}/qos/rules/all") == [{"switch_id": s1.dpid, "command_result": []}]


@needs("ovs_user")
def test_an_app_that_dies_when_a_switch_connects_ends_the_lab_at_once(tmp_path):
    app = tmp_path / "dies_on_connect.py"
    app.write_text(
        "import os\n"
        "from ryu.base import app_manager\n"
        "from ryu.controller import ofp_event\n"
        "from ryu.controller.handler import CONFIG_DISPATCHER, set_ev_cls\n\n\n"
        "class DiesOnConnect(app_manager.RyuApp):\n"
        "    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)\n"
        "    def features(self, ev):\n"
        "        print('giving up on this switch', flush=True)\n"
        "        os._exit(3)\n"
    )
    started = time.monotonic()
    with pytest.raises(UserError) as error:
        with one_switch_lab([str(app)]):
            pass
    assert time.monotonic() - started < 15
    message = str(error.value)  # the log's last lines: the app's last words are the last
    assert "did not connect to the controller: the controller app died (" in message
    assert "giving up on this switch); see " in message
