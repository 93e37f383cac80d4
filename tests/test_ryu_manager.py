"""ryu-manager as the Ryu book uses it, serving a real OVS lab, and ended with Ctrl-C."""

import signal
import subprocess
from contextlib import contextmanager
from pathlib import Path

from taplab.controllers.runtime import free_port
from tests.conftest import ctrl_c, needs, wait_for
from tests.test_controller import remote_lab, two_switches
from tests.test_ryu_apps import curl

RYU_MANAGER = str(Path(__file__).resolve().parents[1] / ".venv" / "bin" / "ryu-manager")


@contextmanager
def ryu_manager(*args: str, **popen):
    """ryu-manager ARGS on a free OpenFlow port: yields (port, process); Ctrl-C on exit,
    after which process.output holds what it printed."""
    port = free_port()
    proc = subprocess.Popen(
        [RYU_MANAGER, *args, "--ofp-tcp-listen-port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **popen,
    )
    try:
        wait_for(
            lambda: proc.poll() is not None or free_port(wanted=port) != port,
            timeout=60,
            what="ryu-manager to listen",
        )
        assert proc.poll() is None, proc.communicate()[0]
        yield port, proc
    finally:
        proc.output = ctrl_c(proc)


@needs("ovs_user")
def test_ryu_manager_verbose_simple_switch_13_serves_a_lab():
    with ryu_manager("--verbose", "ryu.app.simple_switch_13") as (port, proc):
        with remote_lab("ryu-manager", port) as lab:
            two_switches(lab)
            assert lab.net.pingAll(timeout=2) == 0
    assert proc.returncode == 0, proc.output
    assert "loading app ryu.app.simple_switch_13" in proc.output
    assert "EVENT ofp_event->SimpleSwitch13 EventOFPPacketIn" in proc.output  # --verbose


@needs("ovs_user")
def test_ryu_manager_ofctl_rest_on_the_wsapi_port_it_is_given():
    rest = free_port()
    with ryu_manager("ryu.app.ofctl_rest", "--wsapi-port", str(rest)) as (port, proc):
        with remote_lab("ryu-manager-rest", port) as lab:
            two_switches(lab)
            dpids = sorted(int(s.dpid, 16) for s in lab.net.switches)
            wait_for(
                lambda: sorted(curl(f"http://127.0.0.1:{rest}/stats/switches")) == dpids,
                timeout=20,
                what="both switches in GET /stats/switches",
            )
    assert proc.returncode == 0, proc.output


def test_ctrl_c_stops_ryu_manager_started_by_a_script_that_ignores_it():
    """A shell without job control starts `ryu-manager &` with SIGINT ignored."""
    ignore_ctrl_c = lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)  # noqa: E731
    with ryu_manager("ryu.app.simple_switch_13", preexec_fn=ignore_ctrl_c) as (_port, proc):
        pass
    assert proc.returncode == 0, proc.output
