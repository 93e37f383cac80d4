"""The lab's output folder: one per lab, never an earlier lab's, and one sentence on failure."""

import pytest

from taplab import artefacts
from taplab.errors import UserError


def test_a_reused_lab_id_gets_its_own_folder_and_the_earlier_one_is_kept(tmp_path):
    first = artefacts.create("t2sm", "cluster", tmp_path)
    (first / "capture.pcap").write_bytes(b"earlier lab")
    second = artefacts.create("t2sm", "cluster", tmp_path)
    third = artefacts.create("t2sm", "cluster", tmp_path)
    assert [first.name, second.name, third.name] == [
        "t2sm-cluster",
        "t2sm-cluster-2",
        "t2sm-cluster-3",
    ]
    assert (first / "capture.pcap").read_bytes() == b"earlier lab"
    assert list(second.iterdir()) == []


def test_a_name_with_odd_characters_makes_a_plain_folder_name(tmp_path):
    assert artefacts.create("tabc", "my lab/../x", tmp_path).name == "tabc-my-lab-..-x"


def test_an_output_parent_that_is_a_file_is_one_clear_error(tmp_path):
    (tmp_path / "labs").write_text("not a folder")
    with pytest.raises(UserError, match="cannot create the lab's output folder"):
        artefacts.create("tabc", "cluster", tmp_path / "labs")
