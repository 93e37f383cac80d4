"""The lab CLI runs taplab commands on its own lab, and reports failures."""

import json
import os

from tests.conftest import needs, taplab


@needs("iperf3")
def test_measure_inside_the_lab_cli_reports_iperf3_throughput():
    result = taplab("lab", "cluster", "--run", "measure pod1 pod2 --time 1 --json")
    assert result.returncode == 0, result.stdout + result.stderr
    figures = json.loads(result.stdout[result.stdout.index("{") : result.stdout.rindex("}") + 1])
    assert figures["client"] == "pod1" and figures["server"] == "pod2"
    assert figures["mbps"] > 1


@needs("iperf3")
def test_rate_limited_measure_stays_near_the_rate():
    result = taplab("lab", "cluster", "--run", "measure pod1 pod2 --time 2 --rate 20M --json")
    assert result.returncode == 0, result.stdout + result.stderr
    figures = json.loads(result.stdout[result.stdout.index("{") : result.stdout.rindex("}") + 1])
    assert 15 < figures["mbps"] < 25


@needs("iptables")
def test_unknown_node_in_a_taplab_command_fails_with_one_sentence():
    result = taplab("lab", "cluster", "--run", "measure pod1 nosuch")
    assert result.returncode == 1
    assert "no node named 'nosuch'" in result.stderr
    assert "Traceback" not in result.stderr


@needs("iptables")
def test_unknown_command_fails():
    result = taplab("lab", "cluster", "--run", "frobnicate")
    assert result.returncode == 1
    assert "Unknown command" in result.stderr


@needs("iptables")
def test_pingall_reaches_ipv6_only_hosts():
    result = taplab("lab", "netns-pair", "--run", "pingall")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ctr1 -> host1 host2 ctr2" in result.stderr
    assert "*** Results: 0% dropped (12/12 received)" in result.stderr
    assert "could not parse" not in result.stderr


@needs("vxlan")
def test_pingall_fails_and_marks_the_host_it_cannot_reach():
    result = taplab(
        "lab",
        "cluster",
        "--nodes",
        "1",
        "--pods",
        "2",
        "--run",
        "pod2 ip link set pod2-eth0 down",
        "--run",
        "pingall",
    )
    assert result.returncode == 1
    assert "pod1 -> node1 X" in result.stderr and "failed: pingall" in result.stdout
    assert "*** Results: 66% dropped (2/6 received)" in result.stderr


@needs("vxlan")
def test_xterm_without_a_display_fails_and_says_what_to_use():
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    result = taplab("lab", "cluster", "--nodes", "1", "--pods", "1", "--run", "xterm pod1", env=env)
    assert result.returncode == 1 and "failed: xterm pod1" in result.stdout
    assert "needs a display" in result.stderr and "taplab exec" in result.stderr
