"""Debian's full kernel (the Vagrant VM's; `make test-kernel` boots it): doctor finds its
features and names the kernel paths, the cluster runs on kernel GRE and the OVS kernel
datapath, spine-leaf carries VXLAN through kernel GRE, bcc compiles kprobes against the
running kernel's own headers. Elsewhere these tests skip with the probe's reason."""

import json
import re
import socket
import subprocess
import textwrap

import pytest

from tests.conftest import KERNEL_FEATURES, needs, taplab

# The guest runs 10-50 times slower than a development machine.
SLOW = 900


def lab_run(topology: str, *options: str, commands: list[str]) -> str:
    """Build topology with the taplab command, run lab CLI commands in it, tear it down;
    the output, once the command has succeeded."""
    argv = [arg for command in commands for arg in ("--run", command)]
    result = taplab("lab", topology, *options, *argv, timeout=SLOW)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    return out


@needs(*KERNEL_FEATURES, "br_netfilter")
def test_doctor_reports_the_full_kernel_and_picks_its_paths():
    result = taplab("doctor", "--json", timeout=SLOW)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    missing = {
        n: f["detail"]
        for n, f in report["features"].items()
        if n in KERNEL_FEATURES | {"br_netfilter"} and not f["available"]
    }
    assert not missing
    assert report["paths"] == {
        "--overlay gre (cluster, spine-leaf)": "kernel GRE",
        "--switch ovs (OVS switches)": "Open vSwitch kernel datapath",
    }
    table = taplab("doctor", timeout=SLOW).stdout
    assert "uses: kernel GRE" in table and "uses: Open vSwitch kernel datapath" in table


@needs("gre", "ovs_kernel", "iptables")
def test_cluster_on_the_ovs_kernel_datapath_over_kernel_gre_pings():
    """The Vagrant VM's smoke: `taplab lab cluster --switch ovs --overlay gre --run pingall`."""
    out = lab_run(
        "cluster",
        "--switch",
        "ovs",
        "--overlay",
        "gre",
        commands=["pingall", "sh ovs-dpctl show", "node1 ip -d -o link show type gre"],
    )
    ports = re.findall(r"port \d+: (\S+)", out.split("system@ovs-system:", 1)[-1])
    assert [p for p in ports if p != "ovs-system"], f"no lab port on the kernel datapath: {out}"
    tunnels = [ln for ln in out.splitlines() if " gre remote " in ln and "remote any" not in ln]
    assert tunnels, f"node1 has no kernel GRE tunnel to a peer: {out}"


@needs("gre", "vxlan", "iptables", "tcpdump")
def test_spine_leaf_runs_vxlan_through_kernel_gre():
    out = lab_run(
        "spine-leaf",
        commands=["h1 ping -c3 -W5 192.168.42.2", "leaf1 ip -d -o link show type gre"],
    )
    assert re.search(r" gre remote (\d+\.){3}\d+ local", out), out


BCC_KPROBE = r"""
#include <net/sock.h>
#include <linux/in.h>
BPF_ARRAY(seen, u32, 2);
int on_connect(struct pt_regs *ctx, struct sock *sk, struct sockaddr *uaddr) {
    u32 family = 0, port = 0, zero = 0, one = 1;
    bpf_probe_read_kernel(&family, sizeof(u16), &sk->__sk_common.skc_family);
    bpf_probe_read_kernel(&port, sizeof(u16), &((struct sockaddr_in *)uaddr)->sin_port);
    seen.update(&zero, &family);
    seen.update(&one, &port);
    return 0;
}
"""


@needs("kprobes", "bcc")
def test_bcc_kprobe_compiled_against_the_kernel_headers_sees_a_connect():
    """A kprobe program reading struct sock (kernel headers, not UAPI) sees an IPv4
    socket connect to the port asked for."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    code = textwrap.dedent(f"""
        import socket
        from bcc import BPF
        b = BPF(text={BCC_KPROBE!r})
        b.attach_kprobe(event="tcp_v4_connect", fn_name="on_connect")
        socket.create_connection(("127.0.0.1", {port}), timeout=5).close()
        print(b["seen"][0].value, socket.ntohs(b["seen"][1].value))
    """)
    try:
        proc = subprocess.run(
            ["/usr/bin/python3", "-c", code], capture_output=True, text=True, timeout=SLOW
        )
    finally:
        listener.close()
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[-2:] == [str(socket.AF_INET.value), str(port)]


@pytest.mark.kernel
@needs("br_netfilter", "iptables")
def test_bridged_traffic_walks_the_policy_rules():
    """bridge-policy (the published experiment's topology): packets between the two
    containers on host1's bridge jump from FORWARD into the policy chain."""
    out = lab_run(
        "bridge-policy",
        "--rules",
        "5",
        commands=["host1 iptables -Z", "c1 ping -c3 -W5 10.0.1.3", "host1 iptables -vnxL FORWARD"],
    )
    jumps = [ln.split() for ln in out.splitlines() if "TAPLAB-POLICY" in ln]
    assert jumps and int(jumps[-1][0]) >= 6, out
