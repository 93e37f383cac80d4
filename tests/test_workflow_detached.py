"""A detached lab driven from two terminals: exec into a pod, capture to pcapng,
stop; the output folder keeps the capture and the logs."""

import json
import os
import re
from pathlib import Path

from scapy.layers.inet import ICMP
from scapy.utils import rdpcap

from taplab.lab import Lab, LabHandle
from taplab.procs import ProcessId
from taplab.state import recorded_labs
from tests.conftest import lab_leftovers, needs, taplab
from tests.test_walkthrough import SHELL_PROMPT, Terminal


def _running(lab_id: str) -> bool:
    return any(s.id == lab_id and s.owner().alive() for s in recorded_labs())


@needs("vxlan", "tcpdump")
def test_a_detached_lab_from_a_second_terminal(tmp_path):
    first, second, lab_id = Terminal(tmp_path), Terminal(tmp_path), None
    try:
        out = first.type("sudo taplab lab cluster --detach", SHELL_PROMPT)
        lab_id = re.search(r"lab (t\w+) runs in the background", out).group(1)
        folder = tmp_path / "labs" / f"{lab_id}-cluster"
        assert f"its files are in {folder}" in " ".join(out.split()), out
        assert "rc=0" in first.type("echo rc=$?", SHELL_PROMPT)

        # A shell in pod1 from the second terminal, with a prompt that names it.
        second.child.sendline("sudo taplab exec pod1")
        second.child.expect_exact(f"pod1@{lab_id}:")
        second.child.sendline("ip -br addr show pod1-eth0; echo in=$TAPLAB_NODE")
        second.child.expect_exact("in=pod1")
        assert "10.244.1.2/24" in second.child.before
        second.type("exit", SHELL_PROMPT)

        # A capture in the first terminal until Ctrl-C, while the second pings pod1.
        first.child.sendline("sudo taplab capture pod1 -f icmp")
        first.child.expect_exact("listening on pod1-eth0", timeout=60)
        out = second.type(
            "sudo taplab exec pod2 ping -c3 -i0.2 10.244.1.2; echo rc=$?", SHELL_PROMPT
        )
        assert "3 received" in out and "rc=0" in out, out
        first.child.sendcontrol("c")
        out = first.type("", SHELL_PROMPT)
        written = re.search(r"(\d+) packets from pod1:pod1-eth0 written to (\S+)", out)
        assert written, out
        capture = Path(written.group(2))
        assert capture.parent == folder / "captures" and capture.suffix == ".pcapng"
        assert capture.read_bytes()[:4] == bytes.fromhex("0a0d0d0a")  # a pcapng section
        requests = [p for p in rdpcap(str(capture)) if ICMP in p and p[ICMP].type == 8]
        assert len(requests) == 3 and int(written.group(1)) == 6

        out = second.type(f"sudo taplab status {lab_id}", SHELL_PROMPT)
        assert "pod1-eth0 10.244.1.2/24" in " ".join(out.split()), out
        out = second.type("sudo taplab lab stop; echo rc=$?", SHELL_PROMPT)
        assert "rc=0" in out and f"lab {lab_id} stopped" in out, out
        assert not _running(lab_id) and lab_leftovers(lab_id) == []
        assert capture.exists() and (folder / "lab.log").exists()
        assert (folder / "whoami.log").read_text()  # the pods' web servers logged
    finally:
        if lab_id and _running(lab_id):
            taplab("lab", "stop", lab_id)
        for term in (first, second):
            term.child.close(force=True)


@needs("vxlan")
def test_exec_gives_the_command_exit_code_and_errors_are_one_sentence(tmp_path):
    started = taplab("lab", "cluster", "--nodes", "1", "--pods", "1", "--detach", cwd=tmp_path)
    assert started.returncode == 0, started.stderr
    lab_id = re.search(r"lab (t\w+) runs", started.stdout).group(1)
    try:
        assert taplab("exec", "pod1", "sh", "-c", "exit 3").returncode == 3
        piped = taplab("exec", "pod1", input="echo from-$TAPLAB_NODE\n")
        assert piped.returncode == 0 and "from-pod1" in piped.stdout
        missing = taplab("exec", "nosuch", "true")
        assert missing.returncode == 2 and "no node named 'nosuch'" in missing.stderr
        assert len(missing.stderr.strip().splitlines()) == 1
        bad = taplab("capture", "pod1", "-w", str(tmp_path / "no" / "x.pcapng"))
        assert bad.returncode == 2 and "cannot write the capture" in bad.stderr
        assert "Traceback" not in bad.stderr
    finally:
        stopped = taplab("lab", "stop", lab_id)
    assert stopped.returncode == 0, stopped.stderr
    again = taplab("lab", "stop", lab_id)
    assert again.returncode == 2 and f"no running lab with id '{lab_id}'" in again.stderr


@needs("vxlan")
def test_a_detached_lab_that_fails_in_the_background_says_why(tmp_path):
    (tmp_path / "file").write_text("")
    result = taplab("lab", "cluster", "--detach", "--output", str(tmp_path / "file"))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "cannot create the lab's output folder" in result.stderr
    assert "Not a directory" in result.stderr and "Traceback" not in result.stderr


def test_detach_and_run_do_not_go_together():
    result = taplab("lab", "cluster", "--detach", "--run", "pingall")
    assert result.returncode == 2 and "not allowed with" in result.stderr


@needs("vxlan", "tcpdump")
def test_a_pcap_tap_prints_its_capture_path_and_the_capture_outlives_the_lab(tmp_path):
    started = taplab("lab", "cluster", "--nodes", "1", "--pods", "2", "--detach")
    assert started.returncode == 0, started.stderr
    lab_id = re.search(r"lab (t\w+) runs", started.stdout).group(1)
    try:
        tap = taplab("tap", "attach", "pod1", "--kind", "pcap", "--lab", lab_id)
        assert tap.returncode == 0, tap.stderr
        first = Path(re.search(r"capture: (\S+) \.\.\.", tap.stdout).group(1))
        ping = taplab("exec", "--lab", lab_id, "pod2", "ping", "-c3", "-i0.2", "10.244.1.2")
        assert ping.returncode == 0, ping.stdout
        assert taplab("tap", "detach", "tap1", "--lab", lab_id).returncode == 0
    finally:
        stopped = taplab("lab", "stop", lab_id)
    assert stopped.returncode == 0, stopped.stderr
    assert first.name == "tap1.pcap0" and first.parent.name == f"{lab_id}-cluster"
    requests = [p for p in rdpcap(str(first)) if ICMP in p and p[ICMP].type == 8]
    assert len(requests) == 3


@needs()
def test_what_another_process_recorded_is_removed_with_the_lab():
    """A detached lab tears down what `taplab tap attach` and friends, other
    processes, recorded into its state file after it was built."""
    with Lab("refresh-test") as lab:
        other = LabHandle.find(lab.id)  # as a second taplab command sees it
        proc = other.popen(["sleep", "600"])
        sleeper = ProcessId.of(proc.pid)
        assert sleeper.alive()
    proc.wait(10)
    assert not sleeper.alive()


@needs("vxlan", "tcpdump")
def test_under_sudo_the_output_folder_and_its_files_belong_to_the_invoking_user(tmp_path):
    env = {**os.environ, "SUDO_UID": "65534", "SUDO_GID": "65534"}
    result = taplab(
        "lab",
        "cluster",
        "--nodes",
        "1",
        "--pods",
        "2",
        "--output",
        str(tmp_path / "out"),
        "--run",
        "tap attach pod1 --kind pcap",
        "--run",
        "pod2 ping -c2 -i0.2 10.244.1.2",
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (folder,) = (tmp_path / "out").iterdir()
    made = [folder, tmp_path / "out", *folder.rglob("*")]
    assert {p.name for p in made} >= {"tap1.pcap0", "tap1.log", "whoami.log"}
    assert {(p.stat().st_uid, p.stat().st_gid) for p in made} == {(65534, 65534)}


@needs("vxlan")
def test_exec_replaces_node_names_by_their_addresses_as_mininet_does():
    started = taplab("lab", "cluster", "--nodes", "1", "--pods", "2", "--detach")
    assert started.returncode == 0, started.stderr
    lab_id = re.search(r"lab (t\w+) runs", started.stdout).group(1)
    try:
        ping = taplab("exec", "pod1", "ping", "-c1", "-W5", "pod2")
        assert ping.returncode == 0, ping.stdout + ping.stderr
        assert "PING 10.244.1.3 " in ping.stdout and "1 received" in ping.stdout
        words = taplab("exec", "pod1", "echo", "pod2", "pod2x", "pod1", "-pod2")
        assert words.stdout.split() == ["10.244.1.3", "pod2x", "10.244.1.2", "-pod2"]
        raw = taplab("exec", "--raw", "--lab", lab_id, "pod1", "echo", "pod2")
        assert raw.returncode == 0 and raw.stdout == "pod2\n"
    finally:
        stopped = taplab("lab", "stop", lab_id)
    assert stopped.returncode == 0, stopped.stderr


@needs()
def test_exec_gives_an_ipv6_only_node_its_ipv6_address():
    started = taplab("lab", "netns-pair", "--detach")
    assert started.returncode == 0, started.stderr
    lab_id = re.search(r"lab (t\w+) runs", started.stdout).group(1)
    try:
        ping = taplab("exec", "ctr1", "ping", "-c1", "-W5", "ctr2")
        assert ping.returncode == 0, ping.stdout + ping.stderr
        assert re.search(r"PING fd00:2:[0-9a-f:]+\(", ping.stdout), ping.stdout
    finally:
        stopped = taplab("lab", "stop", lab_id)
    assert stopped.returncode == 0, stopped.stderr


def test_exec_substitutes_whole_words_only_and_keeps_names_without_an_address():
    from taplab.commands.exec import substitute

    class Lab:
        nodes = {"pod1": "ns1", "ctr": "ns2", "bare": "ns3"}
        addrs = {
            "pod1": [
                {"family": "inet6", "local": "fd00::1"},
                {"family": "inet", "local": "10.0.0.1"},
            ],
            "ctr": [{"family": "inet6", "local": "fd00::2"}],
            "bare": [],
        }

        def sh(self, node, argv, check=True):
            assert argv[:2] == ["ip", "-j"] and not check
            return json.dumps([{"ifname": "eth0", "addr_info": self.addrs[node]}])

    cmd = ["ping", "pod1", "ctr", "bare", "pod1:80", "http://ctr/", "nosuch"]
    assert substitute(Lab(), cmd) == [
        "ping",
        "10.0.0.1",
        "fd00::2",
        "bare",
        "pod1:80",
        "http://ctr/",
        "nosuch",
    ]
