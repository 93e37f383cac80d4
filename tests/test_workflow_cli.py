"""How taplab ends: markup-safe one-sentence errors, file errors as user errors,
plain progress lines when output is not a terminal."""

import errno
import io
import time

import pytest

from taplab import cli
from taplab.commands import status
from taplab.errors import UserError
from taplab.output import progress
from tests.conftest import needs, taplab


def _fails_with(monkeypatch, exc: Exception):
    def run(args):
        raise exc

    monkeypatch.setattr(status, "run", run)


def test_error_text_in_brackets_is_printed_as_it_is(monkeypatch, capsys):
    _fails_with(monkeypatch, UserError("options need tunnel: [leafA, leafB] and [bold]x[/]."))
    assert cli.main(["status"]) == 2
    err = capsys.readouterr().err
    assert err == "taplab: options need tunnel: [leafA, leafB] and [bold]x[/].\n"


@pytest.mark.parametrize("code", [errno.ENOENT, errno.EACCES, errno.EISDIR, errno.ENOTDIR])
def test_a_file_the_user_named_is_one_sentence_and_exit_2(monkeypatch, capsys, code):
    _fails_with(monkeypatch, OSError(code, "what the system says", "/some/[file].pcap"))
    assert cli.main(["status"]) == 2
    assert capsys.readouterr().err == "taplab: /some/[file].pcap: what the system says.\n"


def test_other_failures_stay_internal_errors(monkeypatch, capsys):
    _fails_with(monkeypatch, OSError(errno.EIO, "input/output error"))
    assert cli.main(["status"]) == 1
    assert "internal error" in capsys.readouterr().err
    _fails_with(monkeypatch, OSError(errno.ENOENT, "gone", "/x"))
    with pytest.raises(OSError):  # --debug shows the traceback
        cli.main(["--debug", "status"])


def test_progress_is_plain_lines_on_stderr_when_not_a_terminal(monkeypatch, capsys):
    from taplab import output

    monkeypatch.setattr(output, "QUIET_SECONDS", 0.05)
    with progress("building [cluster] ..."):
        time.sleep(0.5)
        print("result")
    out = capsys.readouterr()
    assert out.err == "building [cluster] ...\nbuilding [cluster] ... done\n"
    assert out.out == "result\n"
    with pytest.raises(UserError), progress("scan pod1 -> pod2 ..."):
        time.sleep(0.5)
        raise UserError("the scan broke.")
    assert capsys.readouterr().err == "scan pod1 -> pod2 ...\nscan pod1 -> pod2 ... failed\n"


def test_quick_work_says_how_it_ended_and_a_quick_user_error_stays_one_line(monkeypatch, capsys):
    with progress("attaching a pcap tap to pod1 ..."):
        pass
    assert capsys.readouterr().err == "attaching a pcap tap to pod1 ... done\n"

    def run(args):
        with progress("scan pod1 -> nosuch ..."):
            raise UserError("no node named 'nosuch'.")

    monkeypatch.setattr(status, "run", run)
    assert cli.main(["status"]) == 2
    assert capsys.readouterr().err == "taplab: no node named 'nosuch'.\n"


def test_progress_is_a_spinner_and_no_line_on_a_terminal(monkeypatch, capsys):
    from rich.console import Console

    from taplab import output

    screen = io.StringIO()
    monkeypatch.setattr(output, "console", Console(file=screen, force_terminal=True))
    with progress("building [cluster] ..."):
        time.sleep(0.3)
    assert "building [cluster] ..." in screen.getvalue()  # markup-safe
    assert "\x1b[" in screen.getvalue()  # drawn, then erased
    assert capsys.readouterr().err == ""


def test_tables_fold_long_words_at_80_columns_instead_of_cutting_them():
    from rich.console import Console

    from taplab.output import table

    grid = table("id", "kind", "where", "packets", "bytes", "drops", "CPU %", "MB", "at collector")
    grid.add_row(
        "tap1",
        "xdp-flowtable",
        "pod12:pod12-eth0",
        "1234567",
        "987654321",
        "0",
        "12.5",
        "33.7",
        "1234567",
    )
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(grid)
    text = console.export_text()
    assert "…" not in text and max(len(line) for line in text.splitlines()) <= 80
    for bar, words in (
        ("┃", ["id", "kind", "where", "at collector"]),
        ("│", ["tap1", "xdp-flowtable", "pod12:pod12-eth0", "1234567"]),
    ):
        rows = [ln.split(bar)[1:-1] for ln in text.splitlines() if ln.startswith(bar)]
        columns = [" ".join(r[k].strip() for r in rows if r[k].strip()) for k in range(9)]
        for word, column in zip(words, (0, 1, 2, 8), strict=True):
            assert columns[column].replace(" ", "") == word.replace(" ", ""), columns


def test_grade_table_folds_a_long_reason_at_80_columns(monkeypatch):
    from rich.console import Console

    from taplab.commands import grade
    from taplab.exercises.grading import Check, Outcome

    path = "/home/student/labs/t1ab-cluster/captures/pod1-pod1-eth0-20260101.pcapng"
    check = Check("the capture has the pods' ICMP", 2, lambda lab: (False, ""))
    screen = Console(width=80, record=True, file=io.StringIO())
    monkeypatch.setattr(grade, "console", screen)
    grade._print_table([Outcome(check, False, f"no ICMP in {path}")], {"output": "0/2"}, False)
    text = screen.export_text()
    assert "…" not in text and max(len(line) for line in text.splitlines()) <= 80
    assert path in "".join(ln.split("│")[4].strip() for ln in text.splitlines() if "│" in ln)


def test_cannot_grade_prints_brackets_as_they_are(capsys):
    import argparse

    from taplab.commands import grade

    args = argparse.Namespace(results=None, json=False)
    assert (
        grade._cannot_grade(args, "Exercise [03]", "the grader crashed (KeyError: [leafA]).") == 2
    )
    err = capsys.readouterr().err
    assert err == "taplab: cannot grade Exercise [03]: the grader crashed (KeyError: [leafA]).\n"


@needs()
def test_a_failed_run_line_is_named_as_it_was_typed():
    line = "ctr1 false [leafA, leafB] [bold]x"
    result = taplab("lab", "netns-pair", "--run", line)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"failed: {line}" in result.stdout


def test_every_help_fits_80_columns_and_keeps_its_examples_whole(monkeypatch):
    from taplab.manpage import _subcommands

    monkeypatch.setenv("COLUMNS", "80")
    parser = cli.build_parser()
    for path, sub in [((), parser), *_subcommands(parser)]:
        text = sub.format_help()
        too_long = [ln for ln in text.splitlines() if len(ln) > 80]
        assert not too_long, (path, too_long)
        assert sub.description is None or " ".join(sub.description.split()) in " ".join(
            text.split()
        )
        for example in (sub.epilog or "").splitlines()[1:]:
            assert example in text.splitlines(), (path, example)


def test_a_bench_table_built_unwrappable_still_folds_at_80_columns():
    from rich.console import Console
    from rich.table import Table

    from taplab.output import fold

    grid = Table()
    for header in ("tap", "rate", "Mb/s", "% none", "fidelity %", "bytes %", "CPU %", "MB"):
        grid.add_column(header, justify="right", no_wrap=True)
    grid.add_row("xdp-flowtable", "unlimited", "3140", "75.0", "100.00", "100.00", "3.6", "21")
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(fold(grid))
    text = console.export_text()
    assert "…" not in text and max(len(line) for line in text.splitlines()) <= 80
    assert "xdp-flowt" in text and "100.00" in text.replace("\n", "").replace(" ", "")
