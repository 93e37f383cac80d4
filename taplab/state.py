"""The state file of a lab: who owns it and every resource it has created, in order.

Files live under ``/run/taplab/labs/<id>.json`` (tmpfs: a reboot clears them,
together with what they describe). Each write is atomic (write, then rename).
"""

import fcntl
import json
import os
import secrets
import string
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path

from taplab.errors import UserError
from taplab.procs import ProcessId
from taplab.resources import Resource

RUN_DIR = Path(os.environ.get("TAPLAB_RUN_DIR", "/run/taplab"))
LABS_DIR = RUN_DIR / "labs"
ID_ALPHABET = string.ascii_lowercase + string.digits


@dataclass
class LabState:
    """A lab's record: id, name, owning process, resources in creation order, and
    ``meta``, what other taplab commands need to find their way in a running lab
    (node name to namespace, roles, addresses)."""

    id: str
    name: str
    owner_pid: int
    owner_started: int
    resources: list[Resource] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return LABS_DIR / f"{self.id}.json"

    @property
    def workdir(self) -> Path:
        """The lab's own folder for logs, pcaps and sockets."""
        return LABS_DIR / self.id

    def owner(self) -> ProcessId:
        return ProcessId(self.owner_pid, self.owner_started)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the lab's lock and refresh from disk: other taplab processes
        (``taplab tap attach`` while ``taplab lab`` runs) record into the same lab."""
        LABS_DIR.mkdir(parents=True, exist_ok=True)
        with open(LABS_DIR / f"{self.id}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self.path.exists():
                on_disk = LabState.load(self.path)
                self.resources, self.meta = on_disk.resources, on_disk.meta
            yield

    def add(self, resource: Resource) -> None:
        with self._locked():
            self.resources.append(resource)
            self._write()

    def update_meta(self, **meta) -> None:
        with self._locked():
            self.meta.update(meta)
            self._write()

    def save(self) -> None:
        with self._locked():
            self._write()

    def _write(self) -> None:
        tmp = self.path.with_suffix(f".tmp{os.getpid()}")
        # A shallow dict: asdict() deep-copies every resource and dominated big builds.
        tmp.write_text(json.dumps({f.name: getattr(self, f.name) for f in fields(self)},
                                  indent=1))
        os.replace(tmp, self.path)

    def delete(self) -> None:
        self.path.unlink(missing_ok=True)
        (LABS_DIR / f"{self.id}.lock").unlink(missing_ok=True)

    @classmethod
    def create(cls, name: str) -> "LabState":
        """A new state with a short id that no recorded lab uses (used in root-namespace names)."""
        LABS_DIR.mkdir(parents=True, exist_ok=True)
        me = ProcessId.of(os.getpid())
        while True:
            lab_id = "t" + "".join(secrets.choice(ID_ALPHABET) for _ in range(3))
            if not (LABS_DIR / f"{lab_id}.json").exists():
                state = cls(lab_id, name, me.pid, me.started)
                state._write()
                return state

    @classmethod
    def load(cls, path: Path) -> "LabState":
        return cls(**json.loads(path.read_text()))


def recorded_labs() -> list[LabState]:
    """Every lab with a state file, readable ones only."""
    labs = []
    for path in sorted(LABS_DIR.glob("*.json")):
        try:
            labs.append(LabState.load(path))
        except (OSError, ValueError, TypeError):
            continue
    return labs


def find_lab(lab_id: str | None = None) -> LabState:
    """The running lab with this id, or the only running lab when no id is given."""
    running = [s for s in recorded_labs() if s.owner().alive()]
    if lab_id:
        for state in running:
            if state.id == lab_id:
                return state
        raise UserError(f"no running lab with id '{lab_id}': `taplab status` lists them.")
    if len(running) == 1:
        return running[0]
    if not running:
        raise UserError("no lab is running: start one with `sudo taplab lab cluster`.")
    ids = ", ".join(s.id for s in running)
    raise UserError(f"several labs are running ({ids}): choose one with --lab ID.")
