"""The Ryu import layer, Ryu's WSGI layer and ryu-manager's refusals, without a network.

Ryu's apps come from the os-ken 1.4.1 wheel, fetched from PyPI on first use (cached).
"""

import json
import subprocess
import sys

import pytest
import webob

from taplab.controllers import ryu_apps, ryu_shim
from taplab.controllers.ryu_wsgi import ControllerBase, Response, WSGIApplication, route
from taplab.errors import UserError

RYU = [sys.executable, "-m", "taplab.controllers.ryu_manager"]
PARSE_RYU_OPTIONS = """
import sys
from os_ken import cfg
from taplab.controllers import ryu_manager
cfg.CONF(args=sys.argv[1:], project="ryu", default_config_files=[])
print(" ".join(cfg.CONF.app))
"""

EVERY_IMPORT_FORM = """
from taplab.controllers import ryu_shim
ryu_shim.install()

import ryu.lib.packet.ethernet                                  # import ryu.x.y
import ryu.topology.api as topology_api
from ryu.lib.packet import packet, ethernet, arp, ipv4, tcp     # from ryu.x import module
from ryu.controller.handler import MAIN_DISPATCHER, set_ev_cls  # from ryu.x import name
from ryu.app import simple_switch_13, ofctl_rest, rest_firewall # from ryu.app import app
from ryu.app.wsgi import ControllerBase, Response, WSGIApplication, route
from ryu.app.simple_switch_13 import SimpleSwitch13
from ryu.base.app_manager import RyuApp                         # renamed in os-ken
from ryu.exception import RyuException
from ryu.lib.ofctl_string import ofp_ofctl_field_name_to_ryu, nxm_field_name_to_ryu
from ryu import cfg
from ryu.lib import hub, stplib, ofctl_v1_0, ofctl_v1_2, ofctl_v1_3, ofctl_v1_4, ofctl_v1_5
from ryu.topology import event, switches
from ryu.topology.api import get_switch, get_link, get_host
from ryu.ofproto import ofproto_v1_0, ofproto_v1_3, ofproto_v1_4, ofproto_v1_5
import ryu

import os_ken, os_ken.base.app_manager, os_ken.exception, os_ken.lib.packet.ethernet
import os_ken.lib.ofctl_string, os_ken.topology.api

assert ryu.lib.packet.ethernet is os_ken.lib.packet.ethernet
assert ethernet is os_ken.lib.packet.ethernet and topology_api is os_ken.topology.api
assert RyuApp is os_ken.base.app_manager.OSKenApp
assert RyuException is os_ken.exception.OSKenException
assert ofp_ofctl_field_name_to_ryu is os_ken.lib.ofctl_string.ofp_ofctl_field_name_to_os_ken
assert cfg is os_ken.cfg and cfg.CONF is os_ken.cfg.CONF
assert ryu.__version__ == os_ken.__version__
assert ryu.lib.packet.ethernet.__spec__.name == "os_ken.lib.packet.ethernet"
assert simple_switch_13.__name__ == "taplab.controllers.simple_switch_13"
assert SimpleSwitch13 is simple_switch_13.SimpleSwitch13
assert ofctl_rest.__name__ == "os_ken.app.ofctl_rest"
assert ofctl_rest.__file__.startswith(str(ryu_shim.ryu_apps.FOLDER))
assert rest_firewall.WSGIApplication is WSGIApplication
assert WSGIApplication.__module__ == "taplab.controllers.ryu_wsgi"
import ryu.app.simple_switch_stp_13 as stp                      # Ryu's, on Ryu's switch
assert stp.simple_switch_13.SimpleSwitch13.__module__ == "os_ken.app.simple_switch_13"

done = []
queue, event_ = hub.Queue(), hub.Event()
worker = hub.spawn(lambda: (hub.sleep(0.01), queue.put("item"), event_.set()))
hub.joinall([worker])
assert event_.wait(1) and queue.get(timeout=1) == "item"
assert hub.StreamServer and stplib.Stp and switches.Switches
assert get_switch and get_link and get_host and event.EventLinkAdd
print("ok")
"""


def test_every_import_form_ryu_apps_use_resolves():
    out = subprocess.run(
        [sys.executable, "-c", EVERY_IMPORT_FORM], capture_output=True, text=True, timeout=300
    )
    assert out.stdout.strip() == "ok", out.stderr
    plain = subprocess.run([sys.executable, "-c", "import ryu"], capture_output=True, text=True)
    assert "No module named 'ryu'" in plain.stderr  # only where the layer is installed


def test_the_package_ships_every_app_the_ryu_book_uses():
    names = set(ryu_apps.names())
    assert {
        "ofctl_rest",
        "rest_firewall",
        "rest_qos",
        "rest_router",
        "rest_topology",
        "simple_switch_rest_13",
        "simple_switch_stp_13",
        "simple_monitor_13",
        "simple_switch_14",
        "simple_switch_15",
        "example_switch_13",
    } <= names
    assert "wsgi" not in names
    assert ryu_shim.exists("ryu.app.rest_qos") and not ryu_shim.exists("ryu.app.no_such_app")
    assert ryu_shim.target("ryu.app.wsgi") == "taplab.controllers.ryu_wsgi"


class Echo(ControllerBase):
    def __init__(self, req, link, data, **config):
        super().__init__(req, link, data, **config)
        self.app = data["app"]

    @route("echo", "/echo/{dpid}", methods=["GET"], requirements={"dpid": r"[0-9]+"})
    def get(self, req, dpid, **_):
        return Response(
            content_type="application/json", text=json.dumps({"dpid": int(dpid), "app": self.app})
        )

    def put(self, req, dpid, **_):
        return Response(status=201, text=f"{dpid}:{req.body.decode()}")


def test_wsgi_routes_decorated_and_mapper_connected_controllers():
    wsgi = WSGIApplication()
    wsgi.register(Echo, {"app": "firewall"})
    wsgi.mapper.connect(
        "echo", "/echo/{dpid}", controller=Echo, action="put", conditions={"method": ["PUT"]}
    )  # the way rest_firewall connects
    got = webob.Request.blank("/echo/42").get_response(wsgi)
    assert (got.status_int, got.json) == (200, {"dpid": 42, "app": "firewall"})
    put = webob.Request.blank("/echo/7", method="PUT", body=b"on").get_response(wsgi)
    assert (put.status_int, put.text) == (201, "7:on")
    assert webob.Request.blank("/echo/x").get_response(wsgi).status_int == 404
    assert webob.Request.blank("/nowhere").get_response(wsgi).status_int == 404


def test_ryu_manager_refuses_where_a_real_ryu_is_installed(tmp_path):
    (tmp_path / "ryu").mkdir()
    (tmp_path / "ryu" / "__init__.py").write_text("")
    out = subprocess.run(
        [*RYU, "ryu.app.simple_switch_13"],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert out.returncode == 2
    assert f"a real Ryu is installed ({tmp_path / 'ryu'}" in out.stderr
    assert "Traceback" not in out.stderr


def test_ryu_manager_names_an_unknown_app():
    out = subprocess.run([*RYU, "ryu.app.no_such_app"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "no app named ryu.app.no_such_app" in out.stderr and "Traceback" not in out.stderr


def test_the_commands_in_docs_ryu_md_parse():
    import re
    import shlex
    from pathlib import Path

    from taplab.cli import build_parser

    text = (Path(__file__).resolve().parents[1] / "docs" / "ryu.md").read_text()
    commands = re.findall(r"^sudo (taplab .*?|ryu-manager .*?)(?:\s+#.*)?$", text, flags=re.M)
    assert len(commands) >= 5
    for command in commands:
        argv = shlex.split(command.rstrip("\\"))
        if argv[0] == "taplab":
            assert build_parser().parse_args(argv[1:]).func, command
        else:  # ryu-manager's options, parsed as ryu-manager parses them
            out = subprocess.run(
                [sys.executable, "-c", PARSE_RYU_OPTIONS, *argv[1:]], capture_output=True, text=True
            )
            assert out.stdout.split() == [a for a in argv[1:] if a.startswith("ryu.app.")], (
                command,
                out.stderr,
            )


def test_a_wheel_whose_digest_differs_from_the_pinned_one_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(ryu_apps, "CACHE", tmp_path / "os-ken")
    monkeypatch.setattr(ryu_apps, "FOLDER", tmp_path / "os-ken" / "app")
    monkeypatch.setattr(ryu_apps, "WHEEL_SHA256", "0" * 64)
    with pytest.raises(UserError, match="not the pinned 0000"):
        ryu_apps.fetch()
    assert ryu_apps.cached() is None and list(tmp_path.iterdir()) == []  # nothing unpacked


def test_without_the_package_index_the_fetch_is_one_clear_sentence(tmp_path, monkeypatch):
    monkeypatch.setattr(ryu_apps, "CACHE", tmp_path / "os-ken")
    monkeypatch.setattr(ryu_apps, "FOLDER", tmp_path / "os-ken" / "app")
    for name, value in {
        "PIP_CONFIG_FILE": "/dev/null",
        "PIP_FIND_LINKS": "",
        "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
        "PIP_RETRIES": "0",
        "PIP_DEFAULT_TIMEOUT": "5",
    }.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(UserError, match=r"pip could not fetch it \(.*\); check the network"):
        ryu_apps.fetch()
    assert ryu_apps.cached() is None
