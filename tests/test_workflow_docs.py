"""docs/experiments.md: full citations and commands that parse; what cites the
published work cites it, and nothing cites a file outside the repository."""

import re
import shlex
from pathlib import Path

import pytest

from taplab.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = ROOT / "docs" / "experiments.md"
# (author, title words, institution, year) of each published work
CITATIONS = [
    ("S. S. Ledaal", "Tapping network traffic in Kubernetes", "University of Agder", "2023"),
    ("N. de Bruijn", "eBPF Based Networking", "University of Amsterdam", "2017"),
    ("VXLAN over GRE homework", "ECE 792", "spine-leaf", "VNI 42"),
    (
        "F. Leduc",
        "Lambda functions for network control and monitoring",
        "Université de Liège",
        "hdl.handle.net/2268.2/13159",
    ),
    ("I. Oksanen", "5G microservice monitoring with Linux kernel", "Aalto University", "2019"),
]


def _sections() -> dict[str, str]:
    parts = re.split(r"^## ", EXPERIMENTS.read_text(), flags=re.M)[1:]
    return {p.splitlines()[0]: p for p in parts}


@pytest.mark.parametrize("facts", CITATIONS, ids=[c[0] for c in CITATIONS])
def test_each_work_is_cited_in_full_in_one_section_with_a_command(facts):
    sections = [body for body in _sections().values() if facts[0] in body]
    assert len(sections) == 1, facts[0]
    body = " ".join(sections[0].split())
    assert all(fact in body for fact in facts), facts
    assert "Figures quoted" in body and "Reproduce:" in body


def test_every_reproducing_command_parses():
    parser = build_parser()
    commands = re.findall(r"^(sudo taplab .*?)(?:\s+#.*)?$", EXPERIMENTS.read_text(), flags=re.M)
    assert len(commands) >= 6
    for command in commands:
        argv = shlex.split(command)[2:]
        args = parser.parse_args(argv)
        assert getattr(args, "func", None), command


def _project_files() -> list[Path]:
    folders = (
        "taplab",
        "topologies",
        "controllers",
        "taps",
        "traffic",
        "detectors",
        "exercises",
        "bench",
        "docs",
    )
    files = [ROOT / "README.md"]
    for folder in folders:
        files += [p for p in (ROOT / folder).rglob("*") if p.suffix in (".md", ".py")]
    return files


def test_every_upper_case_markdown_file_cited_is_in_the_repository():
    """Docs and code cite only files users have (README.md, not a design file elsewhere)."""
    ours = {p.name for p in ROOT.rglob("*.md") if ".venv" not in p.parts}
    cited = {
        (str(p.relative_to(ROOT)), name)
        for p in _project_files()
        for name in re.findall(r"\b[A-Z][A-Z_]+\.md\b", p.read_text())
    }
    assert [c for c in cited if c[1] not in ours] == []


def test_exercise_readmes_and_benches_that_cite_published_work_point_to_experiments_md():
    cites = re.compile(r"\b(thesis|published|homework|report, 2017)\b")
    readmes = sorted(ROOT.glob("exercises/[0-9]*/README.md"))
    benches = [ROOT / "bench" / f for f in ("taps.py", "policy.py", "encap.py", "lambda_ingest.py")]
    missing = [
        str(p.relative_to(ROOT))
        for p in [*readmes, *benches]
        if cites.search(p.read_text()) and "docs/experiments.md" not in p.read_text()
    ]
    assert missing == []
    for readme in readmes:  # the relative link resolves from the README's folder
        for link in re.findall(r"\]\(([^)]*experiments\.md)\)", readme.read_text()):
            assert (readme.parent / link).resolve() == EXPERIMENTS, readme
