"""A Ryu-style app written for this test, using every import form Ryu apps use, run by
ryu-manager --observe-links on a line of three OVS switches: it switches (pingall), keeps
a networkx graph of the links ryu.topology discovers, answers shortest paths over
ryu.app.wsgi and echoes over a hub.StreamServer."""

import socket
import subprocess

from taplab.controllers.runtime import free_port
from tests.conftest import needs, wait_for
from tests.test_controller import remote_lab
from tests.test_ryu_apps import curl, hosts_on
from tests.test_ryu_manager import ryu_manager

PATH_APP = '''
import networkx as nx

import ryu.lib.packet.ethernet
from ryu import cfg
from ryu.app import simple_switch_13
from ryu.app.wsgi import ControllerBase, Response, WSGIApplication, route
from ryu.controller import ofp_event
from ryu.controller.handler import MAIN_DISPATCHER, set_ev_cls
from ryu.exception import RyuException
from ryu.lib import hub, ofctl_v1_3, stplib
from ryu.lib.packet import packet
from ryu.topology import event
from ryu.topology.api import get_host, get_link, get_switch


class PathApp(simple_switch_13.SimpleSwitch13):
    """The learning switch, plus shortest paths between switches and an echo server."""

    _CONTEXTS = {"wsgi": WSGIApplication}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        kwargs["wsgi"].register(PathController, {"app": self})
        assert cfg.CONF.observe_links and stplib.Stp and ofctl_v1_3.get_flow_stats
        self.graph = nx.Graph()
        self.changes = hub.Queue()
        self.rebuilt = hub.Event()
        self.frames = 0
        self.echo = hub.StreamServer(("127.0.0.1", 0), self._echo)
        hub.spawn(self.echo.serve_forever)
        hub.spawn(self._rebuild)

    @set_ev_cls([event.EventSwitchEnter, event.EventLinkAdd, event.EventLinkDelete])
    def topology_changed(self, ev):
        self.changes.put(type(ev).__name__)

    def _rebuild(self):
        while True:
            self.changes.get()
            hub.sleep(0.1)
            graph = nx.Graph()
            graph.add_nodes_from(s.dp.id for s in get_switch(self))
            graph.add_edges_from((l.src.dpid, l.dst.dpid) for l in get_link(self))
            self.graph = graph
            self.rebuilt.set()

    def _echo(self, sock, address):
        sock.sendall(sock.recv(100).upper())
        sock.close()

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def count(self, ev):
        eth = packet.Packet(ev.msg.data).get_protocol(ryu.lib.packet.ethernet.ethernet)
        self.frames += eth is not None

    def path(self, src, dst):
        try:
            return nx.shortest_path(self.graph, src, dst)
        except (nx.NetworkXNoPath, nx.NodeNotFound) as error:
            raise RyuException(msg=str(error)) from None


class PathController(ControllerBase):
    def __init__(self, req, link, data, **config):
        super().__init__(req, link, data, **config)
        self.app = data["app"]

    @route("path", "/path/{src}/{dst}", methods=["GET"])
    def get_path(self, req, src, dst, **_):
        if not self.app.rebuilt.wait(timeout=5):
            return Response(status=503)
        try:
            return Response(json_body=self.app.path(int(src), int(dst)))
        except RyuException as error:
            return Response(status=404, json_body={"error": str(error)})

    @route("info", "/info", methods=["GET"])
    def info(self, req, **_):
        return Response(json_body={"echo_port": self.app.echo.server.getsockname()[1],
                                   "frames": self.app.frames,
                                   "hosts": len(get_host(self.app))})
'''


@needs("ovs_user")
def test_a_ryu_style_app_uses_every_import_form_on_a_live_topology(tmp_path):
    app = tmp_path / "path_app.py"
    app.write_text(PATH_APP)
    rest = free_port()
    with ryu_manager("--observe-links", "--wsapi-port", str(rest), str(app)) as (port, proc):
        with remote_lab("ryu-path", port) as lab:
            switches = [lab.add_switch(f"s{i}", kind="ovs") for i in (1, 2, 3)]
            hosts_on(lab, switches)
            assert lab.net.pingAll(timeout=2) == 0
            first, middle, last = (int(s.dpid, 16) for s in switches)
            url = f"http://127.0.0.1:{rest}"
            wait_for(
                lambda: curl(f"{url}/path/{first}/{last}") == [first, middle, last],
                timeout=40,
                interval=1,
                what="the path s1 - s2 - s3 from LLDP links",
            )
            assert http_status(f"{url}/path/{first}/999") == "404"  # RyuException
            info = curl(f"{url}/info")
            assert info["frames"] > 0
            with socket.create_connection(("127.0.0.1", info["echo_port"]), timeout=5) as s:
                s.sendall(b"hello")
                assert s.recv(100) == b"HELLO"
    assert proc.returncode == 0, proc.output


def http_status(url: str) -> str:
    """The HTTP status curl gets for url."""
    out = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", url],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return out.stdout
