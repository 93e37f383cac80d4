"""The controller on real OVS: Ryu apps run unmodified, `taplab controller run`,
taplab's default apps with a mirror, bad apps rejected cleanly."""

import socket
import subprocess
from contextlib import contextmanager

from mininet.node import RemoteController

from taplab.controllers import runtime
from taplab.controllers.api_client import ControllerClient
from taplab.controllers.runtime import free_port
from taplab.lab import Lab
from tests.conftest import TAPLAB, ctrl_c, lab_leftovers, needs, taplab, wait_for

RYU_STYLE_APP = '''
from ryu.base import app_manager
from ryu.controller import ofp_event
from ryu.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from ryu.lib.packet import ethernet, packet
from ryu.ofproto import ofproto_v1_3


class PortMemory(app_manager.RyuApp):
    """Every packet through the controller, forwarded by remembered source ports."""

    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen = {}

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def features(self, ev):
        dp = ev.msg.datapath
        ofp, p = dp.ofproto, dp.ofproto_parser
        out = [p.OFPActionOutput(ofp.OFPP_CONTROLLER, ofp.OFPCML_NO_BUFFER)]
        dp.send_msg(p.OFPFlowMod(datapath=dp, priority=0, match=p.OFPMatch(), instructions=[
            p.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, out)]))

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def packet_in(self, ev):
        msg = ev.msg
        dp = msg.datapath
        ofp, p = dp.ofproto, dp.ofproto_parser
        eth = packet.Packet(msg.data).get_protocol(ethernet.ethernet)
        ports = self.seen.setdefault(dp.id, {})
        ports[eth.src] = msg.match["in_port"]
        action = p.OFPActionOutput(ports.get(eth.dst, ofp.OFPP_FLOOD))
        dp.send_msg(p.OFPPacketOut(datapath=dp, buffer_id=ofp.OFP_NO_BUFFER,
                                   in_port=msg.match["in_port"], actions=[action],
                                   data=msg.data))
'''


def two_switches(lab) -> None:
    """h1, h2 on s1; h3 on s2; s1 - s2."""
    s1, s2 = lab.add_switch("s1", kind="ovs"), lab.add_switch("s2", kind="ovs")
    for i, switch in ((1, s1), (2, s1), (3, s2)):
        lab.add_link(lab.add_host(f"h{i}"), switch)
    lab.add_link(s1, s2)
    lab.start()
    for i in (1, 2, 3):
        lab.node(f"h{i}").setIP(f"10.0.0.{i}/24")


@needs("ovs_user")
def test_a_ryu_style_app_file_makes_pingall_succeed(tmp_path):
    app = tmp_path / "port_memory.py"
    app.write_text(RYU_STYLE_APP)
    with Lab("ryu-app", controller_apps=[str(app)]) as lab:
        two_switches(lab)
        assert lab.net.pingAll(timeout=2) == 0
        assert "instantiating app" in (lab.workdir / "controller.log").read_text()
        lab_id, pid = lab.id, lab.meta["controller"]["pid"]
    assert lab_leftovers(lab_id) == []
    assert subprocess.run(["kill", "-0", str(pid)], capture_output=True).returncode != 0


@contextmanager
def controller_run(*args: str):
    """`taplab controller run ARGS --port P --json` in the background: yields (P, process);
    Ctrl-C on exit, whose output is then in process.output."""
    port = free_port()
    proc = subprocess.Popen(
        [*TAPLAB, "controller", "run", *args, "--port", str(port), "--json"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(
            lambda: free_port(wanted=port) != port, timeout=30, what="the controller to listen"
        )
        yield port, proc
    finally:
        proc.output = ctrl_c(proc)


@contextmanager
def remote_lab(name: str, port: int):
    """A lab whose OVS switches use the controller listening on port."""
    with Lab(name) as lab:
        controller = lab.net.addController(
            lab.root_name("c0"), controller=RemoteController, ip="127.0.0.1", port=port
        )
        lab.record_shell(controller)
        yield lab


@needs("ovs_user")
def test_controller_run_simple_switch_13_serves_a_lab_and_stops_on_ctrl_c():
    with controller_run("ryu.app.simple_switch_13") as (port, proc):
        with remote_lab("ctl-run", port) as lab:
            two_switches(lab)
            assert lab.net.pingAll(timeout=2) == 0
            flows = subprocess.run(
                ["ovs-ofctl", "-O", "OpenFlow13", "dump-flows", lab.root_name("s1")],
                capture_output=True,
                text=True,
            ).stdout
            assert "idle_timeout=60" in flows  # learned by taplab's simple_switch_13
    assert proc.returncode == 0
    assert f'"openflow_port": {port}' in proc.output
    controller_lab = proc.output.split('"lab": "')[1].split('"')[0]
    assert lab_leftovers(controller_lab) == []


def one_switch(lab) -> None:
    """h1, h2, h3 on s1 (ports 1, 2, 3)."""
    switch = lab.add_switch("s1", kind="ovs")
    for i in (1, 2, 3):
        lab.add_link(lab.add_host(f"h{i}"), switch)
    lab.start()
    for i in (1, 2, 3):
        lab.node(f"h{i}").setIP(f"10.0.0.{i}/24")


def copies_seen_by_h3(lab) -> int:
    """How many more packets h3 receives while h1 pings h2 20 times (in about 1 s)."""

    def rx() -> int:
        return int(lab.sh("h3", ["cat", "/sys/class/net/h3-eth0/statistics/rx_packets"]))

    before = rx()
    lab.sh("h1", ["ping", "-c", "20", "-i", "0.05", "10.0.0.2"])
    return rx() - before


@needs("ovs_user")
def test_default_apps_switch_and_mirror_on_request():
    with Lab("mirror", controller_apps=[]) as lab:
        one_switch(lab)
        assert lab.net.pingAll(timeout=2) == 0
        assert copies_seen_by_h3(lab) < 20  # learned flows keep h1 -> h2 away from h3
        client = ControllerClient.for_lab(lab)
        record = client.request(
            "POST", "/actions", {"type": "Mirror", "to_port": "s1-eth3", "src": "10.0.0.1"}
        )
        assert record["result"]["switches"] and "error" not in record
        assert copies_seen_by_h3(lab) >= 20  # a copy of every echo request from h1
        assert client.request("GET", "/actions")["actions"][-1]["action"] == "Mirror"


@needs("ovs_user")
def test_controller_run_mirror_app_copies_a_port():
    with controller_run("--mirror", "s1-eth1:s1-eth3") as (port, proc):
        with remote_lab("mirror-app", port) as lab:
            one_switch(lab)
            assert lab.net.pingAll(timeout=2) == 0
            assert copies_seen_by_h3(lab) >= 20  # every echo request entering port 1
    assert proc.returncode == 0


def test_an_unknown_app_is_one_clear_sentence():
    result = taplab("controller", "run", "ryu.app.no_such_app")
    assert result.returncode == 2
    assert "no controller app named 'ryu.app.no_such_app'" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr


@needs("ovs_user")
def test_taplab_lab_runs_a_ryu_app_given_with_controller():
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
        "ryu.app.simple_monitor_13",
        "--run",
        "pingall",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0% dropped" in result.stdout + result.stderr


@needs("ovs_user")
def test_a_port_taken_at_the_last_moment_means_a_restart_on_new_ports(monkeypatch):
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    taken = squatter.getsockname()[1]
    real = runtime.free_port
    offered = []

    def racy_free_port(kind=socket.SOCK_STREAM, wanted=0):
        if wanted == runtime.OPENFLOW_PORT and not offered:
            offered.append(taken)
            return taken  # looked free a moment ago; another lab bound it since
        return real(kind, wanted)

    monkeypatch.setattr(runtime, "free_port", racy_free_port)
    with squatter, Lab("port-race") as lab:
        port = runtime.start(lab, ["ryu.app.simple_switch_13"])
        assert offered == [taken] and port != taken
        assert "Address already in use" in (lab.workdir / "controller.log").read_text()
        controller = lab.net.addController(
            lab.root_name("c0"), controller=RemoteController, ip="127.0.0.1", port=port
        )
        lab.record_shell(controller)
        two_switches(lab)
        assert lab.net.pingAll(timeout=2) == 0
