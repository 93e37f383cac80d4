"""The state file of a lab: who owns it and every resource it has created, in order.

Files live under ``/run/taplab/labs/<id>.json`` (tmpfs: a reboot clears them,
together with what they describe). Each write is atomic (write, then rename).
``/run/taplab/lab-ids`` lists every lab id ever created there, one a line.
"""

import fcntl
import json
import os
import re
import secrets
import string
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path

from taplab.errors import UserError
from taplab.procs import ProcessId
from taplab.resources import LAB_ENV, Resource, name_taken, problem

RUN_DIR = Path(os.environ.get("TAPLAB_RUN_DIR", "/run/taplab"))
LABS_DIR = RUN_DIR / "labs"
IDS_FILE = RUN_DIR / "lab-ids"
ID_ALPHABET = string.ascii_lowercase + string.digits
LAB_ID = re.compile(r"t[a-z0-9]{3}\Z")  # what create() makes: names start with it


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

    @property
    def nodes(self) -> dict[str, str]:
        """Node name to the name of its network namespace."""
        return self.meta.get("nodes", {})

    @property
    def output(self) -> Path | None:
        """The output folder the user chose for the lab's artefacts, if any."""
        output = self.meta.get("output")
        return Path(output) if output else None

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

    def refresh(self) -> None:
        """Read back what other taplab processes recorded into this lab meanwhile."""
        with self._locked():
            pass

    def save(self) -> None:
        with self._locked():
            self._write()

    def _write(self) -> None:
        tmp = self.path.with_suffix(f".tmp{os.getpid()}")
        # A shallow dict: asdict() deep-copies every resource and dominated big builds.
        tmp.write_text(json.dumps({f.name: getattr(self, f.name) for f in fields(self)}, indent=1))
        os.replace(tmp, self.path)

    def delete(self) -> None:
        self.path.unlink(missing_ok=True)
        (LABS_DIR / f"{self.id}.lock").unlink(missing_ok=True)
        if os.environ.get(LAB_ENV) == self.id:
            del os.environ[LAB_ENV]

    def mark_processes(self) -> None:
        """Every process started from here on carries the lab's id in ``$TAPLAB_LAB``,
        so that ``taplab clean`` finds it even when the record is lost."""
        os.environ[LAB_ENV] = self.id

    @classmethod
    def create(cls, name: str) -> "LabState":
        """A new state with a short id that no recorded lab uses (used in root-namespace names)."""
        LABS_DIR.mkdir(parents=True, exist_ok=True)
        me = ProcessId.of(os.getpid())
        while True:
            lab_id = "t" + "".join(secrets.choice(ID_ALPHABET) for _ in range(3))
            if not (LABS_DIR / f"{lab_id}.json").exists() and not name_taken(lab_id):
                state = cls(lab_id, name, me.pid, me.started)
                state._write()
                state.mark_processes()
                with open(IDS_FILE, "a") as ids:
                    ids.write(lab_id + "\n")
                return state

    @classmethod
    def load(cls, path: Path) -> "LabState":
        return cls(**json.loads(path.read_text()))

    @classmethod
    def salvage(cls, path: Path) -> tuple["LabState", list[str], list[str]]:
        """Whatever a record still says, even damaged: (state, damage, skipped entries).

        The id comes from the file name; unreadable fields become empty, and
        entries that cannot be removed as they are, are left out and described
        in skipped. An owner that cannot be read counts as dead."""
        text = path.read_bytes().decode(errors="replace")
        try:
            data = json.loads(text)
        except ValueError as exc:
            data, damage = {}, [f"not valid JSON ({exc})"]
            for key in ("owner_pid", "owner_started"):  # often still there in a cut file
                if match := re.search(rf'"{key}":\s*(\d+)', text):
                    data[key] = int(match[1])
        else:
            damage = [] if isinstance(data, dict) else ["not a JSON object"]
            data = data if isinstance(data, dict) else {}
        resources = data.get("resources", [])
        if not isinstance(resources, list):
            damage.append("its resources are not a list")
            resources = []
        skipped = [why for entry in resources if (why := problem(entry))]
        owner = [data.get(k) for k in ("owner_pid", "owner_started")]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in owner):
            owner = [0, 0]
        meta = data.get("meta") if isinstance(data.get("meta"), dict) else {}
        name = data.get("name") if isinstance(data.get("name"), str) else "?"
        state = cls(path.stem, name, *owner, [r for r in resources if not problem(r)], meta)
        return state, damage, skipped


def record_files() -> list[Path]:
    """Every lab record, readable or not."""
    return sorted(LABS_DIR.glob("*.json"))


def recorded_labs() -> list[LabState]:
    """Every lab with a state file, readable ones only."""
    labs = []
    for path in record_files():
        try:
            labs.append(LabState.load(path))
        except (OSError, ValueError, TypeError):
            continue
    return labs


def created_ids() -> list[str]:
    """Every lab id created under this run folder, oldest first."""
    return IDS_FILE.read_text().split() if IDS_FILE.exists() else []


def find_lab(
    lab_id: str | None = None,
    name: str | None = None,
    label: str = "lab",
    start: str = "sudo taplab lab cluster",
) -> LabState:
    """The running lab with this id, or the only running one when no id is given;
    with name, only labs of that name count (an exercise's). label and start word the
    errors: what is looked for, and the command that starts one."""
    running = [s for s in recorded_labs() if s.owner().alive() and (name is None or s.name == name)]
    if lab_id:
        running = [s for s in running if s.id == lab_id]
        if not running:
            raise UserError(f"no running {label} with id '{lab_id}': `taplab status` lists them.")
    if not running:
        raise UserError(f"no {label} is running: start one with `{start}`.")
    if len(running) > 1:
        ids = ", ".join(s.id for s in running)
        raise UserError(f"several labs are running ({ids}): choose one with --lab ID.")
    running[0].mark_processes()
    return running[0]
