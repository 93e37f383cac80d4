"""Where benches and the demo put their figures: JSON with conditions, PNG plots."""

import json
import platform
import time
from pathlib import Path
from typing import Any

from taplab import __version__


def report_dir(kind: str, base: str | Path | None = None) -> Path:
    """A new folder ``reports/<kind>-<timestamp>/`` (or under base)."""
    root = Path(base) if base else Path.cwd() / "reports"
    path = root / f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def conditions() -> dict[str, Any]:
    """The conditions every figure was measured under."""
    import os

    return {
        "taplab": __version__,
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def write_json(folder: Path, name: str, data: dict[str, Any]) -> Path:
    """Write data plus the measuring conditions to folder/name.json."""
    path = folder / f"{name}.json"
    path.write_text(json.dumps({**data, "conditions": conditions()}, indent=2, default=str))
    return path
