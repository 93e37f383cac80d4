"""taplab.rowlog: a process's JSON rows, read as the log grows."""

import subprocess
import sys

from taplab.rowlog import ProcessLog


def test_rows_come_once_each_and_only_when_complete(tmp_path):
    log = tmp_path / "proc.jsonl"
    log.write_text('# ready\n[1, "a"]\n[2, "b"]\n[3, "c')  # the last row is still being written
    rows = ProcessLog(None, log, proc=None)
    assert rows.rows() == [[1, "a"], [2, "b"]]
    assert rows.rows() == []
    with log.open("a") as f:
        f.write('"]\nnot a row\n[4, "d"]\n')
    assert rows.rows() == [[3, "c"], [4, "d"]]


def test_stop_ends_a_running_process(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    ProcessLog(None, tmp_path / "unused.jsonl", proc).stop()
    assert proc.poll() is not None
