"""``taplab bench policy`` and the bridge-policy mechanisms it compares, on real labs."""

import json
import sys

import pytest

from taplab.bench.policy import FIELDS
from taplab.lab import Lab
from taplab.shell import run
from taplab.topologies import registry
from taplab.topologies.bridge_policy import VARIANTS, set_policy
from tests.conftest import needs, taplab
from tests.test_tap_bench import bench_labs

SENT = 5


def spoofed(lab, src: str, dst: str, ports: list[int]) -> None:
    """SENT TCP SYNs per port from 198.18.0.5 (a policy entry's source) via c1 to dst."""
    code = (
        "from scapy.all import Ether, IP, TCP, sendp\n"
        f"sendp([Ether(dst='{mac(lab, dst)}') / IP(src='198.18.0.5', "
        f"dst='{lab.meta['pods'][dst]['ip']}') / TCP(dport=p) for p in {ports!r} "
        f"for _ in range({SENT})], iface='{src}-eth0', verbose=False)\n"
    )
    run([sys.executable, "-c", code], netns=lab.netns(src), timeout=120)


def mac(lab, pod: str) -> str:
    return lab.sh(pod, ["cat", f"/sys/class/net/{pod}-eth0/address"]).strip()


def arrived(lab, pod: str, port: int) -> int:
    """Packets to port counted by pod's raw PREROUTING rule (before anything can drop them)."""
    out = lab.sh(pod, ["iptables", "-t", "raw", "-vnxL", "PREROUTING"])
    return sum(int(line.split()[0]) for line in out.splitlines() if f"dpt:{port}" in line)


@needs("iptables", "nftables", "bcc", "tc_bpf", "br_netfilter")
def test_each_mechanism_drops_its_entries_and_passes_the_rest():
    """Entry k is (198.18.0.k, port 1024 + k): with 10 entries, 198.18.0.5 to port 1029 is
    dropped on the bridge and to port 1030 (not an entry) passes, under every mechanism
    (match-top's first rule accepts the containers' own sources, not this one)."""
    with Lab("bench-policy-mechanisms") as lab:
        registry.build(lab, "bridge-policy")
        for port in (1029, 1030):
            lab.sh(
                "c2",
                ["iptables", "-t", "raw", "-A", "PREROUTING", "-p", "tcp", "--dport", str(port)],
            )
        for variant in VARIANTS:
            set_policy(lab, 10, variant)
            before = {port: arrived(lab, "c2", port) for port in (1029, 1030)}
            spoofed(lab, "c1", "c2", [1029, 1030])
            got = {port: arrived(lab, "c2", port) - before[port] for port in (1029, 1030)}
            assert got == {1029: 0, 1030: SENT}, (variant, got)
            assert lab.meta["policy"]["variant"] == variant


@needs("iptables", "nftables", "bcc", "tc_bpf", "iperf3")
def test_quick_bench_json_csv_png_and_cleanup(tmp_path):
    before = set(bench_labs("bench-policy"))
    result = taplab("bench", "policy", "--quick", "--json", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    rows = data["rows"]
    assert {(r["variant"], r["path"], r["rules"]) for r in rows} == {
        (v, p, n) for v in VARIANTS for p in ("single-host", "two-node") for n in (0, 200)
    }
    for r in rows:
        assert set(FIELDS) <= set(r)
        assert r["gbps"] > 0.05 and r["transactions"] > 100 and 0 < r["rr_mean_us"] < 10000
        if r["rules"] == 0:
            assert r["gbps_ratio"] == 1.0 and r["rr_ratio"] == 1.0
    assert {(s["variant"], s["path"]) for s in data["shape"]} == {
        (v, p) for v in VARIANTS for p in ("single-host", "two-node")
    }
    assert data["published"]["gbps"]["no-match"][str(200)] == 2.26
    prov = data["provenance"]
    assert prov["command"].startswith("taplab bench policy --quick") and prov["kernel"]
    assert len(prov["git_commit"]) == 40 and prov["cpus"] >= 1
    report = next(tmp_path.glob("policy-*"))
    assert (report / "policy.png").stat().st_size > 0
    lines = (report / "policy.csv").read_text().splitlines()
    assert lines[0].startswith("variant,path,rules,gbps") and len(lines) == 1 + len(rows)
    assert set(bench_labs("bench-policy")) <= before  # this run's lab is gone (others may run)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--rules", "ten"], "--rules takes numbers"),
        (["--rules", "20000"], "--rules must be between 0 and 10000"),
        (["--variants", "bogus"], "--variants takes no-match"),
    ],
)
def test_bad_points_are_one_sentence(argv, message):
    result = taplab("bench", "policy", *argv)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
