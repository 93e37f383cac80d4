"""A lab's output folder: captures, logs, ground truth and reports that outlive it.

Each lab writes into ``./labs/<id>-<topology>/`` (``$TAPLAB_OUTPUT`` or
``--output`` choose another parent folder). Run with sudo, the folder is handed
to the invoking user (``SUDO_UID``/``SUDO_GID``) when it is made and, with
everything in it, when the lab ends.
"""

import itertools
import os
import re
from pathlib import Path

from taplab.errors import UserError


def root(base: str | Path | None = None) -> Path:
    """The folder that holds every lab's output folder."""
    return Path(base or os.environ.get("TAPLAB_OUTPUT") or Path.cwd() / "labs").absolute()


def invoking_user() -> tuple[int, int] | None:
    """(uid, gid) of the user who ran sudo; None when not run through sudo."""
    uid, gid = os.environ.get("SUDO_UID"), os.environ.get("SUDO_GID")
    if uid and gid and uid.isdigit() and gid.isdigit() and uid != "0":
        return int(uid), int(gid)
    return None


def create(lab_id: str, name: str, base: str | Path | None = None) -> Path:
    """Make ``<root>/<id>-<name>/``, owned by the invoking user; an earlier lab's folder
    of the same id (ids are reused once a lab is gone) is kept: this one gets ``-2``, ``-3``..."""
    parent = root(base)
    stem = f"{lab_id}-{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}"
    new_parent = not parent.exists()
    for attempt in itertools.count(1):
        folder = parent / (stem if attempt == 1 else f"{stem}-{attempt}")
        try:
            folder.mkdir(parents=True)
            break
        except FileExistsError:
            continue
        except OSError as exc:
            raise UserError(
                f"cannot create the lab's output folder {folder}: {exc.strerror or exc}."
            ) from None
    owner = invoking_user()
    if new_parent:
        hand_over(parent, owner, recursive=False)
    hand_over(folder, owner, recursive=False)
    return folder


def hand_over(
    path: str | Path | None, owner: tuple[int, int] | list[int] | None, recursive: bool = True
) -> None:
    """Give path (and what it holds) to owner (uid, gid); a no-op for no owner."""
    if not owner or not path or not os.path.exists(path):
        return
    paths = [Path(path)]
    if recursive:
        paths += [Path(d) / n for d, dirs, files in os.walk(path) for n in (*dirs, *files)]
    for p in paths:
        try:
            os.chown(p, *owner, follow_symlinks=False)
        except OSError:
            continue  # gone meanwhile, or on a file system without owners
