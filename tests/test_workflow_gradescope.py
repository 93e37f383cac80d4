"""The Gradescope autograder template: the zip holds what Gradescope runs, and
run_autograder grades a submission on a real lab into results.json."""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import needs

ROOT = Path(__file__).resolve().parents[1]
GRADESCOPE = ROOT / "scripts" / "gradescope"


def _build(exercise: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(GRADESCOPE / "build.sh"), exercise], capture_output=True, text=True, timeout=120
    )


def test_the_zip_holds_the_scripts_the_exercise_and_the_source(tmp_path):
    made = _build("01")
    assert made.returncode == 0, made.stderr
    with zipfile.ZipFile(ROOT / "build" / "gradescope-01.zip") as z:
        assert sorted(z.namelist()) == ["exercise", "run_autograder", "setup.sh", "taplab.tar.gz"]
        assert z.read("exercise") == b"01\n"
        z.extract("taplab.tar.gz", tmp_path)
    listed = subprocess.run(
        ["tar", "-tzf", str(tmp_path / "taplab.tar.gz")], capture_output=True, text=True
    ).stdout.split()
    assert "scripts/install.sh" in listed and "exercises/01-pod-by-hand/check.py" in listed


def test_an_unknown_exercise_is_refused():
    made = _build("99")
    assert made.returncode == 2 and "usage: scripts/gradescope/build.sh NN" in made.stderr


def _grade(tmp_path: Path, files: list[Path]) -> dict:
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    (root / "submission").mkdir()
    shutil.copy(GRADESCOPE / "run_autograder", root / "source")
    (root / "source" / "exercise").write_text("01\n")
    for path in files:
        shutil.copy(path, root / "submission")
    env = {
        **os.environ,
        "AUTOGRADER_ROOT": str(root),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    ran = subprocess.run(
        [str(root / "source" / "run_autograder")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stderr
    return json.loads((root / "results" / "results.json").read_text())


@needs("iptables")
def test_run_autograder_gives_the_solution_full_marks_and_the_starter_less(tmp_path):
    folder = ROOT / "exercises" / "01-pod-by-hand"
    solved = _grade(tmp_path / "solved", [folder / "solution" / "pod_network.sh"])
    full = sum(t["max_score"] for t in solved["tests"])
    assert solved["score"] == full > 0
    starter = _grade(tmp_path / "starter", [folder / "pod_network.sh"])
    assert starter["score"] < full
    assert all(t["status"] in ("passed", "failed") for t in starter["tests"])
