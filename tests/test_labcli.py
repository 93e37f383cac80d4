"""The lab CLI runs taplab commands on its own lab, and reports failures."""

import json

from tests.conftest import needs, taplab


@needs("iperf3")
def test_measure_inside_the_lab_cli_reports_iperf3_throughput():
    result = taplab("lab", "cluster", "--run", "measure pod1 pod2 --time 1 --json")
    assert result.returncode == 0, result.stdout + result.stderr
    figures = json.loads(result.stdout[result.stdout.index("{"):result.stdout.rindex("}") + 1])
    assert figures["client"] == "pod1" and figures["server"] == "pod2"
    assert figures["mbps"] > 1


@needs("iperf3")
def test_rate_limited_measure_stays_near_the_rate():
    result = taplab("lab", "cluster", "--run", "measure pod1 pod2 --time 2 --rate 20M --json")
    assert result.returncode == 0, result.stdout + result.stderr
    figures = json.loads(result.stdout[result.stdout.index("{"):result.stdout.rindex("}") + 1])
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
