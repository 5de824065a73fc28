from __future__ import annotations

import random

import pytest

from serve_handler.seeds import SeedWords


@pytest.fixture
def seeds(tmp_path) -> SeedWords:
    path = tmp_path / "words.txt"
    path.write_text("kernel\t50\nhacker\t40\nkernal\t2\ndaemon\t30\nwizard\t1\n", encoding="utf-8")
    return SeedWords.from_file(path, familiar=3)


def test_a_known_word_is_used_as_is_in_any_case(seeds):
    assert seeds.closest("Wizard") == "wizard"
    assert seeds.closest(" daemon ") == "daemon"


def test_an_unknown_word_maps_to_the_fewest_edits_away(seeds):
    assert seeds.closest("hackr") == "hacker"
    assert seeds.closest("wizzard") == "wizard"


def test_ties_go_to_the_more_frequent_word(seeds):
    # "kernxl" is one edit from both "kernel" (50) and "kernal" (2).
    assert seeds.closest("kernxl") == "kernel"


def test_random_words_come_from_the_familiar_ones_and_follow_the_stream(seeds):
    drawn = {seeds.draw(random.Random(seed)) for seed in range(50)}
    assert drawn == {"kernel", "hacker", "kernal"}
    assert seeds.draw(random.Random("x")) == seeds.draw(random.Random("x"))


def test_a_bad_words_file_names_the_line(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text("kernel\t5\n\t3\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"words.txt:2: empty seed word"):
        SeedWords.from_file(path, familiar=10)
