"""Exercise 03 (VXLAN over GRE) as students type it, on kernel GRE: the solution gets full
marks, the starter less, and the check never takes the kernel's fallback gre0 for the
student's tunnel."""

import json
import subprocess

from taplab.exercises import catalog
from tests.conftest import needs
from tests.test_exercises import _grade_submission

EXERCISE = catalog.get("03")
NEEDS = ("iptables", *EXERCISE.requires)


@needs(*NEEDS)
def test_exercise03_solution_gets_full_marks(tmp_path):
    code, data = _grade_submission(EXERCISE, EXERCISE.solution, tmp_path)
    failed = [(t["name"], t["output"]) for t in data["tests"] if t["status"] != "passed"]
    assert code == 0 and not failed, failed


@needs(*NEEDS)
def test_exercise03_starter_gets_less(tmp_path):
    code, data = _grade_submission(EXERCISE, EXERCISE.path, tmp_path)
    assert code == 1
    assert 0 <= data["score"] < sum(t["max_score"] for t in data["tests"])


class _Links:
    """The two calls of the grading lab that the check's device lookup uses."""

    def __init__(self, links: list[dict]):
        self._links = {link["ifname"]: link for link in links}

    def links(self, node):
        return self._links

    def kind(self, link):
        return link.get("linkinfo", {}).get("info_kind")


def _gre(name: str, local: str, remote: str) -> dict:
    return {
        "ifname": name,
        "linkinfo": {"info_kind": "gre", "info_data": {"local": local, "remote": remote}},
    }


def test_exercise03_check_skips_the_kernel_fallback_gre0():
    check = EXERCISE.module("check")
    fallback, mine = _gre("gre0", "any", "any"), _gre("gre1", "10.0.1.2", "10.0.2.2")
    assert check._device(_Links([fallback, mine]), "leaf1", "gre") is mine
    assert check._device(_Links([fallback]), "leaf1", "gre") is None
    # With fallback devices off, a student may call the tunnel gre0: it is theirs.
    named_gre0 = _gre("gre0", "10.0.1.2", "10.0.2.2")
    assert check._device(_Links([named_gre0]), "leaf1", "gre") is named_gre0


@needs("gre")
def test_exercise03_check_skips_the_gre0_a_real_kernel_adds():
    """In a fresh namespace the kernel's ip_gre adds gre0; the check passes it by."""
    script = "ip link add gre1 type gre local 10.0.1.2 remote 10.0.2.2; ip -j -d link"
    out = subprocess.run(
        ["unshare", "--net", "sh", "-ec", script], capture_output=True, text=True, check=True
    ).stdout
    links = json.loads(out)
    assert "gre0" in {link["ifname"] for link in links}
    check = EXERCISE.module("check")
    assert check._device(_Links(links), "leaf1", "gre")["ifname"] == "gre1"
