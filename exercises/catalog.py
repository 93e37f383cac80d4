"""The exercises: one folder ``exercises/NN-slug/`` each, all with the same shape.

    NN-slug/
      README.md    goal, background, steps, hints, troubleshooting
      lab.py       REQUIRES (capability names) and build(lab): the starting lab
      check.py     CHECKS, a grading.Checklist
      *.sh, *.py   starter files with TODO markers (see apply.py for how they run)
      solution/    the same files, completed

Folder names are not Python package names, so lab.py and check.py are loaded
by path.
"""

import importlib.util
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import ModuleType

from taplab import capabilities
from taplab.errors import UserError, require_root
from taplab.exercises import baseline
from taplab.lab import Lab, LabHandle
from taplab.state import find_lab

ROOT = Path(__file__).resolve().parent
FOLDER = re.compile(r"^(\d\d)-([a-z0-9-]+)$")


@dataclass(frozen=True)
class Exercise:
    number: str
    slug: str
    path: Path

    @property
    def lab_name(self) -> str:
        """The name its lab runs under (``taplab status``), used to find it for grading."""
        return f"exercise-{self.number}"

    @cached_property
    def title(self) -> str:
        readme = self.path / "README.md"
        first = readme.read_text().splitlines()[:1] if readme.exists() else []
        return first[0].lstrip("# ").strip() if first else f"Exercise {self.number}"

    @property
    def readme(self) -> str:
        return (self.path / "README.md").read_text()

    @property
    def solution(self) -> Path:
        return self.path / "solution"

    def module(self, name: str) -> ModuleType:
        """Load lab.py or check.py of this exercise (a fresh module each time)."""
        path = self.path / f"{name}.py"
        spec = importlib.util.spec_from_file_location(f"taplab_exercise_{self.number}_{name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    @property
    def requires(self) -> tuple[str, ...]:
        return tuple(getattr(self.module("lab"), "REQUIRES", ()))

    def open_lab(self, debug: bool = False) -> Lab:
        """A new, empty Lab for this exercise (with a controller when lab.py names
        CONTROLLER_APPS: ``[]`` for taplab's learning switch and lambda server)."""
        apps = getattr(self.module("lab"), "CONTROLLER_APPS", None)
        return Lab(self.lab_name, debug=debug, controller_apps=apps)

    def build(self, lab: Lab) -> None:
        """Build the starting lab into lab and save its state for ``reset``."""
        for feature in self.requires:
            capabilities.require(feature)
        self.module("lab").build(lab)
        lab.set_meta(exercise=self.number)
        baseline.snapshot(lab)

    def running_lab(self, lab_id: str | None = None) -> LabHandle:
        """The running lab of this exercise (the given one, or the only one)."""
        require_root(f"working on the lab of exercise {self.number}")
        return LabHandle(
            find_lab(
                lab_id,
                name=self.lab_name,
                label=f"lab of exercise {self.number}",
                start=f"sudo taplab exercise start {self.number}",
            )
        )


def exercises() -> list[Exercise]:
    """Every exercise, by number."""
    found = []
    for path in sorted(ROOT.iterdir()):
        match = FOLDER.match(path.name)
        if match and (path / "check.py").exists():
            found.append(Exercise(match[1], match[2], path))
    return found


def get(name: str) -> Exercise:
    """An exercise by number (``1``, ``01``) or folder name (``01-pod-by-hand``)."""
    for exercise in exercises():
        if name in (exercise.number, exercise.path.name) or (
            name.isdigit() and int(name) == int(exercise.number)
        ):
            return exercise
    known = ", ".join(e.number for e in exercises())
    raise UserError(f"no exercise '{name}': choose one of {known} (`taplab exercise list`).")
