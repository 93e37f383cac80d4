"""The tc-mirred tap on a real network: a TCP flow through it is not reordered, every
copy reaches the collector, and its veth pair and NAPI thread go with it.

Copies sent from the pod's own transmit path into VXLAN lagged in one CPU's backlog
behind the flow's packets from the other CPU: hundreds of spurious retransmits per run.
"""

import json
import os
import signal
import subprocess
import sys

import pytest

from taplab.lab import Lab
from taplab.measure import iperf3, offloads_off
from taplab.state import LABS_DIR
from taplab.taps import session, testbed
from taplab.taps.copy_path import every_cpu_mask, napi_thread
from taplab.taps.target import peer, resolve
from tests.conftest import lab_leftovers, needs, taplab, wait_for
from tests.test_tap_cleanup import CHILD

RATE, SECONDS, RUNS = "200M", 3, 3


@pytest.fixture(scope="module")
def lab():
    with Lab("tap-mirred") as lab:
        testbed.build(lab)
        for name in testbed.ADDRESSES:  # one skb per wire packet, as `bench taps` measures
            offloads_off(lab, name, f"{name}-eth0")
        yield lab


def retransmits(lab) -> list[int]:
    return [
        iperf3(lab, "client", "server", seconds=SECONDS, rate=RATE).retransmits for _ in range(RUNS)
    ]


def links(lab, node: str) -> list[str]:
    return [link["ifname"] for link in json.loads(lab.sh(node, ["ip", "-j", "link", "show"]))]


@needs("vxlan")
def test_a_tcp_flow_through_the_tap_is_not_reordered_and_every_copy_is_sent(lab):
    untapped = retransmits(lab)
    record = session.attach(lab, "client", "tc-mirred", collector="collector")
    try:
        tapped = retransmits(lab)
        stats = session.stats(lab, record["id"])
    finally:
        session.detach(lab, record["id"])
    # Sending the copies from the pod's transmit path gave 100-900 per run at this rate.
    assert sum(tapped) <= sum(untapped) + 10 * RUNS, (untapped, tapped)
    assert stats["packets"] > RUNS * SECONDS * 10_000 and stats["drops"] == 0, stats


def rps_mask(lab) -> str:
    """The steering mask of the host side of the client's veth."""
    end = peer(lab, "client", resolve(lab, "client").intf)
    return lab.sh(end.node, ["cat", f"/sys/class/net/{end.intf}/queues/rx-0/rps_cpus"]).strip()


@needs("vxlan")
def test_at_unlimited_rate_the_flow_is_not_reordered_and_the_steering_is_undone(lab):
    """There the copy path's thread fills a core and moves the sender."""
    untapped = [iperf3(lab, "client", "server", seconds=SECONDS).retransmits for _ in range(2)]
    before = rps_mask(lab)
    record = session.attach(lab, "client", "tc-mirred", collector="collector")
    try:
        assert int(rps_mask(lab).replace(",", ""), 16) == int(every_cpu_mask(os.cpu_count()), 16)
        tapped = [iperf3(lab, "client", "server", seconds=SECONDS).retransmits for _ in range(2)]
    finally:
        session.detach(lab, record["id"])
    # Without the steering: 1,800-5,600 per run, most of them spurious (duplicate SACKs).
    assert sum(tapped) <= sum(untapped) + 50, (untapped, tapped)
    assert rps_mask(lab) == before


@needs("vxlan", "bcc", "tc_bpf")
def test_a_tap_that_mirrors_some_streams_leaves_the_steering_alone(lab):
    """ebpf --mirror's thread idles until a stream is mirrored; steering only costs."""
    before = rps_mask(lab)
    record = session.attach(lab, "client", "ebpf", collector="collector", mirror="all")
    try:
        assert record["veth"] and rps_mask(lab) == before
    finally:
        session.detach(lab, record["id"])


def test_every_cpu_mask_is_written_in_groups_of_32_cpus():
    assert [every_cpu_mask(n) for n in (1, 2, 32, 33)] == ["1", "3", "ffffffff", "1,ffffffff"]


def test_the_napi_thread_is_found_by_its_device_s_name_cut_at_15_characters(tmp_path):
    for pid, comm in ((7, "napi/tm0a0b0cb-"), (8, "napi/tm0a0b0ca-"), (9, "napi/eth0-8193")):
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "comm").write_text(comm + "\n")
    assert napi_thread("tm0a0b0ca", tmp_path) == 8
    assert napi_thread("eth0", tmp_path) == 9
    with pytest.raises(LookupError):
        napi_thread("tm0a0b0cc", tmp_path)


def has_thread(dev: str) -> bool:
    try:
        return bool(napi_thread(dev))
    except LookupError:
        return False


@pytest.mark.kernel  # threaded NAPI on the users' kernel too
@needs("vxlan")
def test_the_veth_pair_and_its_napi_thread_go_with_the_tap(lab):
    record = session.attach(lab, "client", "tc-mirred", collector="collector")
    near, far = record["veth"]
    try:
        assert {near, far} <= set(links(lab, "client"))
        pid = napi_thread(far)
        # at normal priority: a real-time thread preempted the service at every copy
        assert record["pids"] == [pid] and os.sched_getscheduler(pid) == os.SCHED_OTHER
        iperf3(lab, "client", "server", seconds=1, rate="100M")
        assert session.stats(lab, record["id"])["cpu_pct"] > 0  # the thread's CPU is the tap's
    finally:
        session.detach(lab, record["id"])
    assert not {near, far} & set(links(lab, "client"))
    wait_for(lambda: not has_thread(far), timeout=10, what="the NAPI thread to go")


@needs("vxlan")
def test_taplab_clean_after_kill_9_removes_the_pair_and_the_thread():
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True)
    try:
        ready, lab_id = child.stdout.readline().split()
        assert ready == "READY"
        attach = "tap attach client --kind tc-mirred --collector collector --lab".split()
        attached = taplab(*attach, lab_id)
        assert attached.returncode == 0, attached.stderr
        [record] = json.loads((LABS_DIR / f"{lab_id}.json").read_text())["meta"]["taps"].values()
        far = record["veth"][1]
        assert has_thread(far)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert has_thread(far)  # kill -9: nothing cleaned up yet
    cleaned = taplab("clean")
    assert cleaned.returncode == 0, cleaned.stderr
    assert lab_leftovers(lab_id) == []
    wait_for(lambda: not has_thread(far), timeout=10, what="the NAPI thread to go")
