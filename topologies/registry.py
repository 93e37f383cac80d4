"""Named topologies: ``@topology("name")`` registers a builder ``build(lab, **options)``.

A builder adds nodes and links to a ``Lab`` (so cleanup is guaranteed), starts
it, and publishes what other commands need with ``lab.set_meta``.
"""

import importlib
import inspect
import pkgutil
from collections.abc import Callable

from taplab.errors import UserError

Builder = Callable[..., None]
_TOPOLOGIES: dict[str, Builder] = {}


def topology(name: str) -> Callable[[Builder], Builder]:
    def register(builder: Builder) -> Builder:
        _TOPOLOGIES[name] = builder
        return builder
    return register


def _load_all() -> None:
    from taplab import topologies

    for module in pkgutil.iter_modules(topologies.__path__):
        importlib.import_module(f"taplab.topologies.{module.name}")


def names() -> list[str]:
    _load_all()
    return sorted(_TOPOLOGIES)


def builder(name: str) -> Builder:
    _load_all()
    if name not in _TOPOLOGIES:
        raise UserError(f"unknown topology '{name}': choose one of {', '.join(names())}.")
    return _TOPOLOGIES[name]


def build(lab, name: str, **options) -> None:
    """Build topology name into lab; options it does not take are a user error."""
    fn = builder(name)
    accepted = inspect.signature(fn).parameters
    given = {k: v for k, v in options.items() if v is not None}
    for key in given:
        if key not in accepted:
            flag = "--" + key.replace("_", "-")
            raise UserError(f"topology '{name}' has no option {flag}.")
    fn(lab, **given)
