"""``taplab bench NAME``: experiments that reproduce published figures.

Each module in ``taplab.bench`` with ``NAME``, ``HELP``, ``EXAMPLE``,
``add_arguments(parser)`` and ``run(args) -> int`` becomes ``taplab bench NAME``.
Every bench takes ``--json`` and ``--out DIR``.
"""

import importlib
import pkgutil

from taplab import bench
from taplab.commands import subcommand


def register(sub) -> None:
    p = subcommand(
        sub,
        "bench",
        "run an experiment that reproduces published figures",
        ["sudo taplab bench build --json"],
    )
    benches = p.add_subparsers(dest="bench", metavar="NAME", required=True)
    for info in pkgutil.iter_modules(bench.__path__):
        module = importlib.import_module(f"taplab.bench.{info.name}")
        if not hasattr(module, "NAME"):
            continue
        bp = subcommand(benches, module.NAME, module.HELP, [module.EXAMPLE])
        bp.add_argument("--json", action="store_true", help="print the figures as JSON")
        bp.add_argument("--out", metavar="DIR", help="report folder (default ./reports)")
        module.add_arguments(bp)
        bp.set_defaults(func=module.run)
