"""make test-kernel's host side: it says why when the guest cannot boot or does not
finish (exit 3), instead of passing or hanging. The tests it runs in the guest are the
ones marked `kernel`."""

import glob
import os
import shutil
import subprocess
from pathlib import Path

import pytest

LANE = Path(__file__).resolve().parents[1] / "scripts" / "test-kernel.sh"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="make test-kernel needs root")


def lane(tmp_path, **env) -> subprocess.CompletedProcess:
    env = {**os.environ, "TAPLAB_KERNEL_OUT": str(tmp_path / "out"), **env}
    return subprocess.run(["bash", str(LANE)], capture_output=True, text=True, env=env, timeout=120)


def test_no_kernel_image_is_named_as_the_reason(tmp_path):
    result = lane(tmp_path, TAPLAB_KERNEL_BOOT=str(tmp_path))
    assert result.returncode == 3, result.stdout + result.stderr
    assert f"cannot boot the guest: no {tmp_path}/vmlinuz-*-amd64" in result.stderr


@pytest.mark.skipif(
    not shutil.which("qemu-system-x86_64") or not glob.glob("/boot/vmlinuz-*"),
    reason="QEMU or Debian's kernel is not installed (make test-kernel installs them)",
)
def test_a_guest_that_does_not_finish_in_time_is_stopped_and_named(tmp_path):
    result = lane(tmp_path, TAPLAB_KERNEL_TIMEOUT="3")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "did not finish within 3 s" in result.stderr
    assert (tmp_path / "out" / "console.log").exists()
