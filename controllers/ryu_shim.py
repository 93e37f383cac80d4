"""Makes ``import ryu...`` work on os-ken, in the controller process only.

``ryu.X`` resolves to the module ``os_ken.X`` itself (one module object, so
events and classes are shared), ``RyuApp`` is ``OSKenApp``, and the app names
Ryu tutorials use resolve to taplab's own apps::

    install()
    from ryu.base import app_manager        # os_ken.base.app_manager
    import ryu.app.simple_switch_13         # taplab.controllers.simple_switch_13
"""

import importlib
import importlib.abc
import importlib.util
import sys

RYU_APPS = {
    "ryu.app.simple_switch_13": "taplab.controllers.simple_switch_13",
    "ryu.app.simple_monitor_13": "taplab.controllers.simple_monitor_13",
}


def target(name: str) -> str | None:
    """The module that stands for a ``ryu`` module name, or None for other names."""
    if name in RYU_APPS:
        return RYU_APPS[name]
    if name == "ryu" or name.startswith("ryu."):
        return "os_ken" + name[3:]
    return None


class _Alias(importlib.abc.Loader):
    def __init__(self, real: str):
        self.real = real

    def create_module(self, spec):
        module = importlib.import_module(self.real)
        self.real_spec = module.__spec__
        return module

    def exec_module(self, module) -> None:
        # importlib stamped the alias spec on the real module: give it its own back.
        module.__spec__ = self.real_spec


class RyuFinder(importlib.abc.MetaPathFinder):
    """Finds ``ryu.*`` names and loads the os-ken (or taplab) module they stand for."""

    def find_spec(self, name, path=None, module=None):
        real = target(name)
        if real is None or importlib.util.find_spec(real) is None:
            return None
        return importlib.util.spec_from_loader(name, _Alias(real), is_package=True)


def install() -> None:
    """Put the finder first on sys.meta_path (idempotent)."""
    from os_ken.base import app_manager

    app_manager.RyuApp = app_manager.OSKenApp
    if not any(isinstance(f, RyuFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, RyuFinder())
