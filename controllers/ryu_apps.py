"""Ryu's bundled apps, taken from a released package rather than copied into taplab.

os-ken 1.4.1 (OpenStack's fork of Ryu) still ships Ryu's ``ryu/app/*.py`` as
``os_ken/app/*.py``. Its wheel is fetched from PyPI with pip on first use,
checked against a pinned SHA-256, and its ``os_ken/app`` folder is unpacked into
the cache; the import layer (``ryu_shim``) loads those files while the running
framework stays the installed os-ken::

    folder = ryu_apps.fetch()          # /var/cache/taplab/os-ken-1.4.1/app (root)
    ryu_apps.names()                   # ['example_switch_13', 'ofctl_rest', ...]
"""

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from taplab.errors import UserError

PACKAGE = "os-ken==1.4.1"
WHEEL_SHA256 = "31011eb23d38be356e0175274ab492dbe26fa25f41a31f8e738cf61df63b40a6"
SYSTEM_CACHE = Path("/var/cache/taplab") / "os-ken-1.4.1"


def _cache() -> Path:
    """$TAPLAB_CACHE_DIR; else the system cache for root or once root filled it; else the
    user's (ryu-manager needs no root)."""
    if os.environ.get("TAPLAB_CACHE_DIR"):
        return Path(os.environ["TAPLAB_CACHE_DIR"]) / SYSTEM_CACHE.name
    if os.geteuid() == 0 or (SYSTEM_CACHE / "app" / "__init__.py").is_file():
        return SYSTEM_CACHE
    return Path.home() / ".cache" / "taplab" / SYSTEM_CACHE.name


CACHE = _cache()
FOLDER = CACHE / "app"
# Ryu's WSGI layer is replaced by taplab's (ryu_wsgi): it stood on eventlet and tinyrpc.
NOT_APPS = {"__init__", "wsgi"}


def cached() -> Path | None:
    """The unpacked app folder if it is already in the cache."""
    return FOLDER if (FOLDER / "__init__.py").is_file() else None


def fetch() -> Path:
    """The unpacked app folder, downloading the wheel first if needed."""
    if cached():
        return FOLDER
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE.parent) as tmp:
        wheel = _download(Path(tmp))
        unpacked = Path(tmp) / "app"
        with zipfile.ZipFile(wheel) as z:
            for member in z.namelist():
                if member.startswith("os_ken/app/") and member.endswith(".py"):
                    target = unpacked / member.removeprefix("os_ken/app/")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(z.read(member))
        CACHE.mkdir(exist_ok=True)
        try:
            unpacked.rename(FOLDER)
        except OSError:  # another process unpacked it at the same moment
            if not cached():
                raise
    return FOLDER


def _download(folder: Path) -> Path:
    pip = [
        sys.executable,
        "-m",
        "pip",
        "download",
        PACKAGE,
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "-q",
        "-d",
        str(folder),
    ]
    done = subprocess.run(pip, capture_output=True, text=True, timeout=300)
    wheels = list(folder.glob("*.whl"))
    if done.returncode or not wheels:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise UserError(
            f"Ryu's apps come from the {PACKAGE} wheel on PyPI and pip could not "
            f"fetch it ({last}); check the network and try again."
        )
    digest = hashlib.sha256(wheels[0].read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        raise UserError(
            f"the downloaded {PACKAGE} wheel has SHA-256 {digest}, not the pinned "
            f"{WHEEL_SHA256}; refusing to run it."
        )
    return wheels[0]


def names(folder: Path | None = None) -> list[str]:
    """The app modules the package ships (without the ``ryu.app.`` prefix)."""
    folder = folder or fetch()
    return sorted(p.stem for p in folder.glob("*.py") if p.stem not in NOT_APPS)
