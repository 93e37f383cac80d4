"""`taplab clean` with a damaged lab record: it still removes what carries the lab's id,
reports what it could not remove, and leaves foreign resources alone."""

import json
import signal

import pytest

from taplab.procs import ProcessId
from taplab.resources import owned_by, problem
from taplab.state import LABS_DIR, LabState
from tests.conftest import lab_leftovers, needs, taplab
from tests.test_lab_lifecycle import assert_foreign_untouched, foreign, start_child

__all__ = ["foreign"]  # the fixture, imported for these tests


def test_salvage_of_a_cut_record_keeps_the_id_and_the_owner(tmp_path):
    path = tmp_path / "tab1.json"
    path.write_text('{"id": "tab1", "name": "x", "owner_pid": 1, "owner_started": 5, "reso')
    state, damage, skipped = LabState.salvage(path)
    assert (state.id, state.owner_pid, state.owner_started) == ("tab1", 1, 5)
    assert state.resources == [] and skipped == []
    assert damage and "not valid JSON" in damage[0]


def test_salvage_drops_and_names_entries_it_cannot_remove(tmp_path):
    path = tmp_path / "tab2.json"
    good = {"kind": "netns", "name": "tab2-pod1"}
    path.write_text(
        json.dumps(
            {
                "id": "tab2",
                "name": "x",
                "owner_pid": "?",
                "resources": [
                    good,
                    {"kind": "process", "cmd": "sleep 9", "started": 3},
                    7,
                    {"kind": "?"},
                ],
            }
        )
    )
    state, damage, skipped = LabState.salvage(path)
    assert state.resources == [good] and damage == []
    assert (state.owner_pid, state.owner().alive()) == (0, False)
    assert len(skipped) == 3 and "process sleep 9 (pid ?) without a valid 'pid'" in skipped[0]


def test_salvage_of_non_list_resources(tmp_path):
    path = tmp_path / "tab3.json"
    path.write_text(json.dumps({"id": "tab3", "resources": {"kind": "netns"}}))
    state, damage, _skipped = LabState.salvage(path)
    assert state.resources == [] and damage == ["its resources are not a list"]


@pytest.mark.parametrize(
    "entry",
    [
        {"kind": "process", "pid": True, "started": 1},
        {"kind": "link"},
        {"kind": "path", "path": 3},
        "netns",
    ],
)
def test_entries_that_cannot_be_removed_are_named(entry):
    assert problem(entry)


def _killed_lab(damage) -> tuple[str, list[dict]]:
    """A lab killed with -9 whose record damage(text) -> text then rewrote."""
    child, lab_id, resources = start_child()
    child.send_signal(signal.SIGKILL)
    child.wait()
    path = LABS_DIR / f"{lab_id}.json"
    path.write_text(damage(path.read_text()))
    return lab_id, resources


def _assert_lab_gone(lab_id, resources):
    assert lab_leftovers(lab_id) == []
    assert owned_by(lab_id, str(LABS_DIR / lab_id)) == []
    for r in resources:  # the root namespace's sleep too, found by its $TAPLAB_LAB
        if r["kind"] == "process":
            assert not ProcessId(r["pid"], r["started"]).alive(), r


def _edit(change):
    """damage() that applies change(record) to the parsed record."""

    def damage(text):
        record = json.loads(text)
        change(record)
        return json.dumps(record)

    return damage


@needs("ovs_user")
def test_truncated_record_still_gets_its_lab_removed(foreign):
    lab_id, resources = _killed_lab(lambda text: text[:200])
    result = taplab("clean")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "nothing to clean" not in result.stdout
    assert "record is damaged" in result.stdout
    _assert_lab_gone(lab_id, resources)
    assert_foreign_untouched(foreign)


@needs("ovs_user")
def test_non_list_resources_still_get_the_lab_removed(foreign):
    lab_id, resources = _killed_lab(_edit(lambda r: r.update(resources={"x": r["resources"]})))
    result = taplab("clean", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "internal error" not in result.stderr
    report = json.loads(result.stdout)
    assert report["cleaned"][0]["damaged_record"] == ["its resources are not a list"]
    _assert_lab_gone(lab_id, resources)
    assert_foreign_untouched(foreign)


def _drop_root_sleep_pid(record):
    for r in record["resources"]:
        if r["kind"] == "process" and r["cmd"] == "sleep 1000":
            del r["pid"]


@needs("ovs_user")
def test_a_process_without_pid_is_reported_and_the_rest_removed(foreign):
    lab_id, resources = _killed_lab(_edit(_drop_root_sleep_pid))
    result = taplab("clean")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "internal error" not in result.stderr
    assert "could not remove" in result.stdout and "without a valid 'pid'" in result.stdout
    _assert_lab_gone(lab_id, resources)
    assert_foreign_untouched(foreign)


@needs("ovs_user")
def test_a_lab_whose_record_is_gone_is_still_cleaned(foreign):
    lab_id, resources = _killed_lab(lambda text: text)
    (LABS_DIR / f"{lab_id}.json").unlink()
    result = taplab("clean")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"removed lab {lab_id}" in result.stdout and "record is damaged" in result.stdout
    _assert_lab_gone(lab_id, resources)
    assert_foreign_untouched(foreign)
