"""The Vagrantfile is valid for Vagrant (booting the VM needs a hypervisor, not here), and
its provisioning moves any bookworm box onto Debian's current kernel before installing."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROVISION = ROOT / "scripts" / "provision-vagrant.sh"


@pytest.mark.skipif(
    shutil.which("vagrant") is None,
    reason="vagrant is not installed (make test installs Debian's vagrant)",
)
def test_vagrantfile_validates():
    result = subprocess.run(
        ["vagrant", "validate", "--ignore-provider"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    text = (ROOT / "Vagrantfile").read_text()
    assert 'config.vm.box = "debian/bookworm64"' in text
    assert "reboot: true" in text
    assert text.index("provision-vagrant.sh kernel") < text.index("provision-vagrant.sh taplab")


def _check(running: str, boot: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(PROVISION), "check", running, str(boot)],
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize(
    "running,ok", [("6.1.0-57-amd64", True), ("6.1.0-9-amd64", False), ("6.1.0-18-amd64", False)]
)
def test_provisioning_wants_the_newest_installed_kernel(tmp_path, running, ok):
    """An old box (6.1.0-9, 6.1.0-18) after installing Debian's current kernel (6.1.0-57):
    the VM must run the newest one, versions compared as versions, not as text."""
    for version in ("6.1.0-9-amd64", "6.1.0-18-amd64", "6.1.0-57-amd64"):
        (tmp_path / f"vmlinuz-{version}").touch()
        (tmp_path / f"config-{version}").touch()
    result = _check(running, tmp_path)
    assert (result.returncode == 0) == ok, result.stderr
    if not ok:
        assert f"runs Linux {running} but its newest kernel is 6.1.0-57-amd64" in result.stderr


def test_provisioning_without_a_kernel_image_says_so(tmp_path):
    result = _check("6.1.0-57-amd64", tmp_path)
    assert result.returncode == 1 and "no kernel image" in result.stderr
