"""Makes Ryu's module names work on os-ken, in the controller process only.

Once ``install()`` ran:

- ``ryu.X.Y`` is the module ``os_ken.X.Y`` itself (one module object, so events and
  classes are shared), with Ryu's names for what os-ken renamed (``RENAMED``);
- ``ryu.app.wsgi`` (and ``os_ken.app.wsgi``) is taplab's WSGI layer (``ryu_wsgi``);
- ``ryu.app.simple_switch_13`` and ``ryu.app.simple_monitor_13`` are taplab's own
  versions (``TAPLAB_APPS``);
- ``hub.Timeout`` interrupts waits as on Ryu's eventlet hub (``ryu_hub``);
- every other ``ryu.app.NAME`` is Ryu's app from the os-ken 1.4.1 package
  (``ryu_apps``), loaded as ``os_ken.app.NAME``::

    install()
    from ryu.base import app_manager        # os_ken.base.app_manager
    from ryu.app import ofctl_rest          # Ryu's ofctl_rest.py
"""

import importlib
import importlib.abc
import importlib.util
import sys
import types
from pathlib import Path

from taplab.controllers import ryu_apps, ryu_hub

RENAMED = {  # module: {Ryu's name: os-ken's name}
    "os_ken.base.app_manager": {"RyuApp": "OSKenApp"},
    "os_ken.exception": {"RyuException": "OSKenException"},
    "os_ken.lib.ofctl_string": {
        "ofp_ofctl_field_name_to_ryu": "ofp_ofctl_field_name_to_os_ken",
        "nxm_field_name_to_ryu": "nxm_field_name_to_os_ken",
    },
    "os_ken.services.protocols.bgp.application": {"RyuBGPSpeaker": "OSKenBGPSpeaker"},
}
TAPLAB_APPS = {
    "ryu.app.simple_switch_13": "taplab.controllers.simple_switch_13",
    "ryu.app.simple_monitor_13": "taplab.controllers.simple_monitor_13",
}
WSGI = "taplab.controllers.ryu_wsgi"
PACKAGE_APP = "os_ken.app."


def target(name: str) -> str | None:
    """The module that stands for a Ryu module name, or None for other names."""
    if name in TAPLAB_APPS:
        return TAPLAB_APPS[name]
    if name in ("ryu.app.wsgi", "os_ken.app.wsgi"):
        return WSGI
    if name == "ryu" or name.startswith("ryu."):
        return "os_ken" + name[3:]
    return None


def package_app(name: str) -> bool:
    """Whether name is one of Ryu's apps that only the os-ken 1.4.1 package has."""
    if not name.startswith(PACKAGE_APP) or name.count(".") != 2:
        return False
    short = name.removeprefix(PACKAGE_APP)
    installed = Path(importlib.import_module("os_ken.app").__path__[0])
    if (
        short in ryu_apps.NOT_APPS
        or (installed / f"{short}.py").exists()
        or (installed / short).is_dir()
    ):
        return False
    return (ryu_apps.fetch() / f"{short}.py").is_file()


def exists(name: str) -> bool:
    """Whether name can be imported once the layer is installed (does not import it)."""
    real = target(name) or name
    if package_app(real):
        return True
    try:
        return importlib.util.find_spec(real) is not None
    except (ImportError, ValueError):
        return False


class _Alias(importlib.abc.Loader):
    """Loads a name as another module's very object, adding Ryu's renamed names."""

    def __init__(self, real: str):
        self.real = real

    def create_module(self, spec):
        module = importlib.import_module(self.real)
        self.real_spec = module.__spec__
        return module

    def exec_module(self, module) -> None:
        # importlib stamped the alias spec on the real module: give it its own back.
        module.__spec__ = self.real_spec
        _add_ryu_names(module)


def _add_ryu_names(module) -> None:
    for ryu_name, os_ken_name in RENAMED.get(module.__name__, {}).items():
        setattr(module, ryu_name, getattr(module, os_ken_name))


class RyuFinder(importlib.abc.MetaPathFinder):
    """Finds ``ryu.*`` names and Ryu's packaged apps."""

    def find_spec(self, name, path=None, module=None):
        if name in ("ryu", "ryu.app"):  # their own packages: ryu.app.X may differ from
            # os_ken.app.X, so the attribute chain ryu.app.X must not pass through os_ken.app
            return importlib.util.spec_from_loader(name, _Package(), is_package=True)
        if package_app(name):
            file = ryu_apps.fetch() / f"{name.removeprefix(PACKAGE_APP)}.py"
            return importlib.util.spec_from_file_location(name, file)
        real = target(name)
        if real is None or not exists(real):
            return None
        is_package = importlib.util.find_spec(real).submodule_search_locations is not None
        return importlib.util.spec_from_loader(name, _Alias(real), is_package=is_package)


class _Package(importlib.abc.Loader):
    """``ryu`` and ``ryu.app``: submodules come from the finder; ``ryu``'s other
    attributes (``__version__``) from ``os_ken``."""

    def exec_module(self, module) -> None:
        module.__path__ = []
        if module.__name__ == "ryu":
            module.__getattr__ = _ryu_attribute


def _ryu_attribute(attr: str):
    import os_ken

    value = getattr(os_ken, attr)
    return importlib.import_module(f"ryu.{attr}") if isinstance(value, types.ModuleType) else value


def install() -> None:
    """Put the finder first on sys.meta_path and add Ryu's names (idempotent)."""
    ryu_hub.install()
    for name in ("os_ken.base.app_manager", "os_ken.exception", "os_ken.lib.ofctl_string"):
        _add_ryu_names(importlib.import_module(name))
    if not any(isinstance(f, RyuFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, RyuFinder())
