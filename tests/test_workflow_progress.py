"""Long commands whose output is a pipe say what they do in plain lines on stderr,
and keep stdout for their results."""

import json
import re

from tests.conftest import needs, taplab


def _progress(result) -> list[str]:
    return [ln for ln in result.stderr.splitlines() if ln.endswith(("...", "... done"))]


@needs("vxlan", "tcpdump", "iperf3")
def test_piped_commands_print_progress_lines(tmp_path):
    started = taplab("lab", "cluster", "--nodes", "1", "--pods", "2", "--detach", cwd=tmp_path)
    assert started.returncode == 0, started.stderr
    lab_id = re.search(r"lab (t\w+) runs", started.stdout).group(1)
    try:
        # The background lab's own lines, passed on by the command that started it
        # (a build quicker than taplab.output.QUIET_SECONDS says only "done").
        assert _progress(started)[-1] == "building cluster ... done"
        assert set(_progress(started)[:-1]) <= {"building cluster ..."}
        measured = taplab("measure", "pod2", "pod1", "--time", "1", "--json")
        assert measured.returncode == 0, measured.stderr
        assert _progress(measured) == [
            "iperf3 pod2 -> pod1 for 1s ...",
            "iperf3 pod2 -> pod1 for 1s ... done",
        ]
        assert json.loads(measured.stdout)["mbps"] > 0  # stdout is the JSON alone

        tap = taplab("tap", "attach", "pod1", "--kind", "pcap", "--lab", lab_id)
        assert tap.returncode == 0, tap.stderr
        assert _progress(tap)[-1] == "attaching a pcap tap to pod1 ... done"
        assert set(_progress(tap)[:-1]) <= {"attaching a pcap tap to pod1 ..."}
        assert "\x1b[" not in tap.stdout + tap.stderr  # no spinner drawn into the pipe

        failed = taplab("measure", "pod2", "nosuch", "--time", "1")
        assert failed.returncode == 2, failed.stderr
        assert failed.stderr.splitlines()[-1].startswith("taplab: ")
    finally:
        stopped = taplab("lab", "stop", lab_id)
    assert stopped.returncode == 0, stopped.stderr
