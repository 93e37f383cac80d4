"""The Vagrantfile is valid for Vagrant (booting the VM needs a hypervisor, not here)."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("vagrant") is None,
                    reason="vagrant is not installed (make test installs Debian's vagrant)")
def test_vagrantfile_validates():
    result = subprocess.run(["vagrant", "validate", "--ignore-provider"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    text = (ROOT / "Vagrantfile").read_text()
    assert 'config.vm.box = "debian/bookworm64"' in text
    assert "make -C /vagrant install" in text
