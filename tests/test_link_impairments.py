"""Link impairments: values as people write them, the tc commands, and real links
(bandwidth with HTB here; delay with netem where the kernel has it)."""

import json
import re

import pytest

from taplab.errors import UserError
from taplab.impairments import Impairment, tc_commands
from tests.conftest import needs, taplab


def test_values_with_and_without_units():
    imp = Impairment.parse(rate="20mbit", delay="1.5ms", jitter=2, loss="1%", corrupt="0.1")
    assert imp.rate_bps == 20e6 and imp.delay_s == pytest.approx(0.0015)
    assert imp.jitter_s == pytest.approx(0.002) and imp.loss_pct == 1 and imp.corrupt_pct == 0.1
    assert Impairment.parse(rate=10).rate_bps == 10e6  # a bare number: Mbit/s, as Mininet's bw
    assert Impairment.parse(rate="500K").rate_bps == 500e3
    assert not Impairment.parse() and Impairment.parse(loss="0%").needs_netem is False


@pytest.mark.parametrize(
    "values,message",
    [
        ({"rate": "fast"}, "rate 'fast' is not a number with a unit"),
        ({"delay": "20 parsecs"}, "delay '20 parsecs' is not a number with a unit"),
        ({"loss": "150%"}, "more than 100 %"),
        ({"jitter": "5ms"}, "jitter and reorder need a delay"),
        ({"rate": "1kbit"}, "below 8 kbit/s"),
    ],
)
def test_mistakes_are_user_errors(values, message):
    with pytest.raises(UserError, match=re.escape(message)):
        Impairment.parse(**values)


def test_rate_alone_is_htb_and_delay_alone_is_netem_at_the_root():
    rate = tc_commands("eth0", Impairment.parse(rate="20mbit"))
    assert [c[1] for c in rate] == ["qdisc", "class"] and "htb" in rate[0]
    assert rate[1][rate[1].index("rate") + 1] == "20000000bit"
    delay = tc_commands("eth0", Impairment.parse(delay="50ms", loss="1%"))
    assert delay == [
        [
            "tc",
            "qdisc",
            "replace",
            "dev",
            "eth0",
            "root",
            "handle",
            "10:",
            "netem",
            "delay",
            "50000us",
            "loss",
            "1%",
        ]
    ]


def test_rate_and_delay_put_netem_under_the_htb_class():
    both = tc_commands(
        "eth0", Impairment.parse(rate="5mbit", delay="10ms", jitter="1ms", reorder="25%")
    )
    assert both[2][:8] == ["tc", "qdisc", "replace", "dev", "eth0", "parent", "1:1", "handle"]
    assert both[2][9:] == ["netem", "delay", "10000us", "1000us", "reorder", "25%"]
    assert tc_commands("eth0", Impairment()) == []


def _mbps(lab_id: str, client: str, server: str) -> float:
    result = taplab("measure", client, server, "--time", "3", "--json", "--lab", lab_id)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["mbps"]


def _detached(*args: str) -> str:
    started = taplab("lab", "cluster", "--nodes", "1", "--pods", "2", "--detach", *args)
    assert started.returncode == 0, started.stderr
    return re.search(r"lab (t\w+) runs", started.stdout).group(1)


@needs("htb", "iperf3")
def test_a_bandwidth_limit_holds_within_10_percent_both_ways():
    lab_id = _detached()
    try:
        unlimited = _mbps(lab_id, "pod1", "pod2")
        result = taplab("link", "pod1", "cni0", "--rate", "20mbit", "--lab", lab_id)
        assert result.returncode == 0, result.stderr
        assert "pod1:pod1-eth0 <-> node1:" in result.stdout
        # iperf3 counts TCP payload: 1448 of every 1514 bytes on the wire, 95.6 % of the rate.
        for client, server in (("pod1", "pod2"), ("pod2", "pod1")):
            assert 18 <= _mbps(lab_id, client, server) <= 22, (client, server)
        listed = taplab("link", "--list", "--json", "--lab", lab_id)
        assert json.loads(listed.stdout)["pod1:pod1-eth0"]["rate_bps"] == 20e6
        assert taplab("link", "pod1", "--clear", "--lab", lab_id).returncode == 0
        qdiscs = taplab(
            "exec", "--lab", lab_id, "pod1", "tc", "qdisc", "show", "dev", "pod1-eth0"
        ).stdout
        assert "htb" not in qdiscs and unlimited > 100
    finally:
        taplab("lab", "stop", lab_id)


@needs("htb", "iperf3")
def test_the_lab_cli_link_command_shapes_and_mininet_link_still_works():
    result = taplab(
        "lab",
        "cluster",
        "--nodes",
        "1",
        "--pods",
        "2",
        "--run",
        "link pod2 --rate 10mbit",
        "--run",
        "measure pod2 pod1 --time 2 --json",
        "--run",
        "link pod1 nosuch --rate 1mbit",
    )
    assert result.returncode == 1, result.stdout + result.stderr
    figures = json.loads(result.stdout[result.stdout.index("{") : result.stdout.rindex("}") + 1])
    assert 9 <= figures["mbps"] <= 11
    assert "failed: link pod1 nosuch" in result.stdout
    assert "no link to 'nosuch'" in result.stderr


@needs("htb")
def test_without_netem_delay_is_refused_with_the_reason():
    from taplab import capabilities

    if capabilities.available("netem"):
        pytest.skip("this kernel has netem: the refusal cannot happen here")
    lab_id = _detached()
    try:
        result = taplab("link", "pod1", "--delay", "50ms", "--lab", lab_id)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert "delay need tc netem" in result.stderr and "--rate" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    finally:
        taplab("lab", "stop", lab_id)


@pytest.mark.kernel
@needs("netem")
def test_a_50ms_delay_makes_a_100ms_round_trip():
    lab_id = _detached()
    try:
        assert taplab("link", "pod1", "--delay", "50ms", "--lab", lab_id).returncode == 0
        ping = taplab("exec", "--lab", lab_id, "pod1", "ping", "-c5", "-i0.2", "10.244.1.3")
        assert ping.returncode == 0, ping.stdout
        avg = float(re.search(r"= [\d.]+/([\d.]+)/", ping.stdout).group(1))
        assert 95 <= avg <= 150, ping.stdout
    finally:
        taplab("lab", "stop", lab_id)
