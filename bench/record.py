"""What every bench records beside its figures, and its CSV table.

data = {..., "provenance": provenance()}   # command line, git commit, machine, load
write_csv(folder, "policy", rows, FIELDS)
"""

import csv
import os
import platform
import subprocess
import sys
from pathlib import Path

from taplab.output import console, print_json
from taplab.report import report_dir, write_json

REPO = Path(__file__).resolve().parents[1]


def _git(*argv: str) -> str | None:
    proc = subprocess.run(["git", "-C", str(REPO), *argv], capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else None


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo") as f:
            return next(
                (line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), None
            )
    except OSError:
        return None


def provenance() -> dict:
    """The command line, the code's git commit (and whether it had local changes), the
    machine, its kernel and its load average when the figures were taken."""
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "command": " ".join(["taplab", *sys.argv[1:]]),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(status) if status is not None else None,
        "machine": platform.node(),
        "cpu_model": _cpu_model(),
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "load_avg_1_5_15": [round(x, 2) for x in os.getloadavg()],
    }


def write_csv(folder: Path, name: str, rows: list[dict], fields: list[str]) -> Path:
    """rows as folder/name.csv, one column per field (missing ones empty)."""
    path = folder / f"{name}.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def pyplot():
    """matplotlib's pyplot drawing to files (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, folder: Path, name: str) -> list[str]:
    """fig as folder/name.png, closed; the list of plot paths a bench reports."""
    fig.tight_layout()
    path = folder / f"{name}.png"
    fig.savefig(path, dpi=110)
    pyplot().close(fig)
    return [str(path)]


def write_report(name: str, out: str | None, data: dict, fields: list[str], plot) -> Path:
    """A new report folder with name.json (data with its provenance), name.csv (data's
    rows) and the plots that plot(rows, folder) draws; the JSON file's path."""
    folder = report_dir(name, out)
    data["provenance"] = provenance()
    data["plots"] = plot(data["rows"], folder)
    data["csv"] = str(write_csv(folder, name, data["rows"], fields))
    return write_json(folder, name, data)


def publish(name: str, args, data: dict, fields: list[str], plot, *summary) -> int:
    """write_report, then print data as JSON (``--json``) or the summary (tables and
    lines) and the report's path; the command's exit code."""
    path = write_report(name, args.out, data, fields, plot)
    if args.json:
        print_json(data)
        return 0
    for part in summary:
        console.print(part)
    console.print(f"report: {path}")
    return 0
