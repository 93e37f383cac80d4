"""Named topologies: ``@topology("kind")`` registers a builder ``build(lab, spec, **options)``.

A topology (a name or a YAML file, see ``topofile``) names its builder by
``kind``. A builder adds nodes and links to a ``Lab`` (so cleanup is
guaranteed), starts it, and publishes what other commands need with
``lab.set_meta``. Command-line options (``--nodes``, ``--overlay``, ...) are
keyword arguments of the builder; an option it does not take is a user error.
"""

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass

from taplab.errors import UserError
from taplab.topologies import startup, topofile

Builder = Callable[..., None]
_BUILDERS: dict[str, Builder] = {}


def topology(kind: str) -> Callable[[Builder], Builder]:
    def register(builder: Builder) -> Builder:
        _BUILDERS[kind] = builder
        return builder

    return register


def _load_all() -> None:
    from taplab import topologies

    for module in pkgutil.iter_modules(topologies.__path__):
        importlib.import_module(f"taplab.topologies.{module.name}")


def names() -> list[str]:
    """The named topologies (the YAML files shipped with taplab)."""
    return topofile.names()


def builder(kind: str) -> Builder:
    _load_all()
    if kind not in _BUILDERS:
        raise UserError(f"no builder for topology kind '{kind}'.")
    return _BUILDERS[kind]


@dataclass(frozen=True)
class Prepared:
    """A checked topology (``spec``) and its options, built into a lab by calling it."""

    builder: Builder
    spec: dict
    options: dict

    @property
    def name(self) -> str:
        return self.spec["name"]

    def __call__(self, lab) -> None:
        """The builder, then the file's per-node startup commands."""
        self.builder(lab, spec=self.spec, **self.options)
        startup.run_startup(lab, self.spec)


def prepare(source: str, **options) -> Prepared:
    """Check topology source (name or file) and options now; return what builds it.

    Everything a user can get wrong in the file or the options is found here,
    before a lab exists.
    """
    spec = topofile.load(source)
    fn = builder(spec["kind"])
    accepted = inspect.signature(fn).parameters
    given = {k: v for k, v in options.items() if v is not None}
    for key in given:
        if key not in accepted or key in ("lab", "spec"):
            flag = "--" + key.replace("_", "-")
            raise UserError(f"topology '{spec['name']}' has no option {flag}.")
    return Prepared(fn, spec, given)


def build(lab, source: str, **options) -> None:
    """Build topology source (name or file) into lab."""
    prepare(source, **options)(lab)
