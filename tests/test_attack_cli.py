"""``taplab attack`` and ``taplab detect`` on a running lab, as a user types them."""

import json
import subprocess

import pytest

from taplab import capabilities
from taplab.lab import Lab
from taplab.measure import node_ip
from taplab.topologies import registry
from tests.conftest import TAPLAB, needs, taplab, wait_for

pytestmark = [pytest.mark.network, needs("nmap", "hping3")]


@pytest.fixture(scope="module")
def lab():
    with Lab("attack-cli-test") as lab:
        registry.build(lab, "cluster", nodes=1, pods=3)
        yield lab


def recorded(lab) -> list:
    """What the lab's state file records now (other processes add to it)."""
    return json.loads(lab.state.path.read_text())["resources"]


def sensor_ready(lab) -> bool:
    return any("# ready" in p.read_text() for p in lab.workdir.glob("sensor-node1-*.jsonl"))


def test_detect_scores_a_scan_and_a_flood_launched_from_the_command_line(lab, tmp_path):
    detect = subprocess.Popen(
        [
            *TAPLAB,
            "detect",
            "--lab",
            lab.id,
            "--time",
            "12",
            "--score",
            "--detectors",
            "trw,cusum",
            "--json",
        ]
        + (["--ebpf"] if capabilities.available("tc_bpf") else []),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: sensor_ready(lab), timeout=30, what="the detect sensor")
        scan = taplab(
            "attack",
            "scan",
            "pod1",
            "pod2",
            "--ports",
            "1000-1100",
            "--lab",
            lab.id,
            "--out",
            str(tmp_path),
            "--json",
        )
        assert scan.returncode == 0, scan.stderr
        flood = taplab(
            "attack",
            "synflood",
            "pod3",
            "pod2",
            "--rate",
            "1000",
            "--time",
            "2",
            "--lab",
            lab.id,
            "--out",
            str(tmp_path),
            "--json",
        )
        assert flood.returncode == 0, flood.stderr
        out, err = detect.communicate(timeout=60)
    finally:
        detect.kill()
    assert detect.returncode == 0, err
    result = json.loads(out)
    scanner, flooder = node_ip(lab, "pod1"), node_ip(lab, "pod3")
    trw = [d for d in result["detections"] if d["detector"] == "trw"]
    assert [d["src"] for d in trw] == [scanner]
    assert flooder in {d["src"] for d in result["detections"] if d["detector"] == "cusum"}
    if capabilities.available("tc_bpf"):
        kernel = {d["src"] for d in result["detections"] if d["detector"] == "cusum-ebpf"}
        assert flooder in kernel and kernel <= {scanner, flooder}
    scores = {s["detector"]: s for s in result["scores"]}
    assert scores["trw"]["detected"] and scores["cusum"]["detected"]
    assert scores["trw"]["false_positives"] == 0 and scores["cusum"]["false_positives"] == 0
    truths = [json.loads(p.read_text()) for p in tmp_path.glob("*.json")]
    assert sorted(t["kind"] for t in truths) == ["scan", "syn-flood"]
    assert json.loads(scan.stdout)["command"].startswith("nmap -sS -T4 -n -p 1000-1100 ")
    assert json.loads(flood.stdout)["command"].startswith("hping3 -S -q -p 80 -i u1000 -c 2000")


@needs("tcpdump")
def test_detect_reads_a_tcpdump_capture_and_scores_it_against_the_ground_truth(lab, tmp_path):
    pcap = lab.workdir / "pod2.pcap"
    tcpdump = lab.popen(
        ["tcpdump", "-i", "pod2-eth0", "-U", "--immediate-mode", "-w", str(pcap)],
        node="pod2",
        log="tcpdump.log",
    )
    wait_for(
        lambda: "listening on" in (lab.workdir / "tcpdump.log").read_text(),
        timeout=15,
        what="tcpdump",
    )
    scan = taplab(
        "attack",
        "scan",
        "pod1",
        "pod2",
        "--ports",
        "2000-2030",
        "--lab",
        lab.id,
        "--out",
        str(tmp_path),
    )
    assert scan.returncode == 0, scan.stderr
    # 31 probes and 31 answers, 16-byte record headers: wait until they are on disk.
    wait_for(lambda: pcap.stat().st_size > 24 + 62 * (16 + 54), timeout=30, what="the capture")
    tcpdump.terminate()
    tcpdump.wait(timeout=10)
    result = taplab(
        "detect",
        "--pcap",
        str(pcap),
        "--detectors",
        "trw,zeek,snort",
        "--score",
        "--groundtruth",
        str(tmp_path),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {(d["detector"], d["src"]) for d in data["detections"]} == {
        ("trw", node_ip(lab, "pod1")),
        ("zeek", node_ip(lab, "pod1")),
        ("snort", node_ip(lab, "pod1")),
    }
    assert all(s["detected"] and s["false_positives"] == 0 for s in data["scores"])
    assert taplab("detect", "--pcap", str(tmp_path / "none.pcap")).returncode == 2


@pytest.mark.parametrize(
    "args, message",
    [
        (["attack", "scan", "pod1", "nosuch"], "neither a node"),
        (["attack", "scan", "pod1", "pod2", "--ports", "70000"], "bad port list"),
        (["attack", "synflood", "pod1", "pod2", "--rate", "-5"], "--rate must be positive"),
        (["attack", "synflood", "pod1", "pod2", "--spoof", "1.2.3.4", "--rand-source"], "not both"),
        (["attack", "synflood", "ghost", "pod2"], "no node named 'ghost'"),
        (["attack", "scan", "pod1", "pod2", "--kind", "sI"], "needs --zombie NODE"),
        (["attack", "scan", "pod1", "pod2", "--mtu", "12"], "multiple of 8"),
        (["attack", "scan", "pod1", "pod2", "--decoys", "ghost"], "neither a node"),
        (["attack", "scan", "pod1", "pod2", "--kind", "sn", "--ping", "PZ"], "unknown ping probe"),
        (["attack", "flood", "pod1,pod3", "pod2", "--rand-source"], "give one node"),
        (["attack", "flood", "pod1", "pod2", "--kind", "udp", "--rate", "0"], "must be positive"),
        (["detect", "--detectors", "trw,psychic"], "unknown detector 'psychic'"),
        (["detect", "--node", "ghost", "--time", "1"], "no node named 'ghost'"),
    ],
)
def test_bad_input_is_one_sentence_and_exit_2_leaving_nothing(lab, args, message):
    before = recorded(lab)
    result = taplab(*args, "--lab", lab.id)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2
    assert recorded(lab) == before


def test_decoy_scan_and_distributed_flood_from_the_command_line(lab, tmp_path):
    scan = taplab(
        "attack",
        "scan",
        "pod1",
        "pod2",
        "--kind",
        "sF",
        "--ports",
        "1-10",
        "--decoys",
        "pod3,RND:2",
        "-f",
        "--source-port",
        "53",
        "--lab",
        lab.id,
        "--json",
    )
    assert scan.returncode == 0, scan.stderr
    truth = json.loads(scan.stdout)
    assert truth["attacker_ips"] == [node_ip(lab, "pod1")]
    assert truth["details"]["decoys"] == [node_ip(lab, "pod3"), "RND:2"]
    assert f"-D {node_ip(lab, 'pod3')},RND:2,ME -f -g 53" in truth["command"]
    flood = taplab(
        "attack",
        "flood",
        "pod1,pod3",
        "pod2",
        "--kind",
        "udp",
        "--rate",
        "200",
        "--time",
        "1",
        "--lab",
        lab.id,
        "--json",
    )
    assert flood.returncode == 0, flood.stderr
    truth = json.loads(flood.stdout)
    assert truth["kind"] == "distributed-udp-flood"
    assert truth["attacker_ips"] == [node_ip(lab, "pod1"), node_ip(lab, "pod3")]
    assert truth["details"]["sent"] == 400


def test_attacks_run_inside_the_lab_cli():
    result = taplab(
        "lab",
        "cluster",
        "--nodes",
        "1",
        "--pods",
        "2",
        "--run",
        "attack scan pod1 pod2 --ports 1-20",
        "--run",
        "attack synflood pod1 pod2 --rate 200 --time 1",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "scan by nmap" in result.stdout and "syn-flood by hping3" in result.stdout
