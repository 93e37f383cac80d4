"""`taplab lab`: building, running commands non-interactively, and user errors."""

import os
import subprocess

from tests.conftest import TAPLAB, needs, taplab


@needs("iptables")
def test_pingall_in_the_small_cluster_passes():
    result = taplab("lab", "cluster", "--run", "pingall", "--run", "pod1 ping -c1 pod2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0% dropped" in result.stderr  # Mininet logs to stderr


@needs("iptables")
def test_a_failing_command_gives_exit_1_and_names_it():
    result = taplab("lab", "cluster", "--run", "pod1 ping -c1 -W1 10.99.99.99")
    assert result.returncode == 1
    assert "failed: pod1 ping" in result.stdout + result.stderr


def test_unknown_topology_is_one_sentence_and_exit_2():
    result = taplab("lab", "no-such-topology")
    assert result.returncode == 2
    assert "unknown topology 'no-such-topology'" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_option_a_topology_lacks_is_a_user_error():
    result = taplab("lab", "cluster", "--run", "pingall", "--bogus", "1")
    assert result.returncode == 2


def test_without_root_says_use_sudo():
    if os.geteuid() != 0:
        result = taplab("lab", "cluster")
    else:
        result = subprocess.run(
            [
                "setpriv",
                "--reuid=nobody",
                "--regid=nogroup",
                "--clear-groups",
                *TAPLAB,
                "lab",
                "cluster",
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "HOME": "/tmp"},
            cwd="/tmp",
        )
    assert result.returncode == 2, result.stderr
    assert "needs root: run it with sudo" in result.stderr


def test_every_subcommand_help_shows_an_example():
    for command in ("doctor", "clean", "lab", "demo"):
        result = taplab(command, "--help")
        assert result.returncode == 0
        assert "example" in result.stdout, command
