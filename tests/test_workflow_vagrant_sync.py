"""scripts/vagrant-sync-back.sh: the VM's labs/ and reports/ reach the host.

No VM here: `vagrant ssh-config` and `ssh` are stand-ins on PATH that run the
remote side on this machine, so the real rsync copies from a folder that plays
/vagrant."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "vagrant-sync-back.sh"


def _tool(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)


@pytest.fixture
def checkout(tmp_path):
    """A copy of the script in a fake checkout, a fake VM folder, and stand-in tools."""
    (tmp_path / "repo" / "scripts").mkdir(parents=True)
    shutil.copy(SCRIPT, tmp_path / "repo" / "scripts")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _tool(bin_dir, "vagrant", 'printf "Host default\\n  HostName 127.0.0.1\\n"\n')
    # ssh -F CONFIG HOST CMD...: run CMD here, as ssh would run it in the VM.
    _tool(bin_dir, "ssh", 'shift 3; exec sh -c "$*"\n')
    _tool(bin_dir, "sudo", 'exec "$@"\n')
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "TAPLAB_VM_DIR": str(tmp_path / "vm"),
    }
    return tmp_path, env


@pytest.mark.skipif(shutil.which("rsync") is None, reason="rsync is not installed")
def test_labs_and_reports_made_in_the_vm_come_back(checkout):
    tmp_path, env = checkout
    capture = tmp_path / "vm" / "labs" / "t1ab-cluster" / "captures" / "pod1.pcapng"
    capture.parent.mkdir(parents=True)
    capture.write_bytes(b"\x0a\x0d\x0d\x0a")
    (tmp_path / "repo" / "labs").mkdir()
    (tmp_path / "repo" / "labs" / "kept.txt").write_text("made on the host")
    result = subprocess.run(
        [str(tmp_path / "repo" / "scripts" / "vagrant-sync-back.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "copied labs/ from the VM" in result.stdout
    assert "no reports/ in the VM's" in result.stdout
    copied = tmp_path / "repo" / "labs" / "t1ab-cluster" / "captures" / "pod1.pcapng"
    assert copied.read_bytes() == b"\x0a\x0d\x0d\x0a"
    assert (tmp_path / "repo" / "labs" / "kept.txt").exists()  # nothing deleted on the host


def test_without_a_vm_it_says_so(checkout):
    tmp_path, env = checkout
    (tmp_path / "bin" / "vagrant").write_text("#!/bin/sh\nexit 1\n")
    result = subprocess.run(
        [str(tmp_path / "repo" / "scripts" / "vagrant-sync-back.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "is the VM up" in result.stderr


def test_the_vagrantfile_keeps_vm_outputs_out_of_the_one_way_sync():
    text = (ROOT / "Vagrantfile").read_text()
    assert '"labs/", "reports/"' in text and "vagrant-sync-back.sh" in text
    assert "sync-back:" in (ROOT / "Makefile").read_text()
