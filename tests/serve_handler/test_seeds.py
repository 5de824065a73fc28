from __future__ import annotations

import random

import pytest

from serve_handler.seeds import SeedWords


@pytest.fixture
def seeds(tmp_path) -> SeedWords:
    path = tmp_path / "words.txt"
    path.write_text("kernel\t50\nhacker\t40\nkernal\t2\ndaemon\t30\nwizard\t1\n", encoding="utf-8")
    return SeedWords.from_file(path, familiar=3)


def test_a_known_word_is_used_as_asked_in_any_case(seeds):
    assert seeds.closest("Wizard") == "Wizard"
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


@pytest.fixture
def cased(tmp_path) -> SeedWords:
    """A words.txt with forms (three columns), and one line of the old two-column kind."""
    path = tmp_path / "words.txt"
    path.write_text("kernel\t50\tKernel\nunix\t40\tUNIX\ndaemon\t30\nlantern\t20\tLantern\n", encoding="utf-8")
    return SeedWords.from_file(path, familiar=3)


def test_drawn_words_come_in_their_form(cased):
    assert {cased.draw(random.Random(seed)) for seed in range(50)} == {"Kernel", "UNIX", "daemon"}


def test_a_drawn_word_is_the_same_for_the_same_stream_with_or_without_forms(seeds, tmp_path):
    path = tmp_path / "cased.txt"
    path.write_text("kernel\t50\tKernel\nhacker\t40\tHacker\nkernal\t2\tKernal\n", encoding="utf-8")
    cased = SeedWords.from_file(path, familiar=3)
    for seed in range(20):
        assert cased.draw(random.Random(seed)) == seeds.draw(random.Random(seed)).capitalize()


def test_a_known_requested_word_keeps_the_casing_it_was_asked_in(cased):
    assert [cased.closest(word) for word in ("kernel", "Kernel", "KERNEL", " unix ")] == [
        "kernel", "Kernel", "KERNEL", "unix"]


def test_an_unknown_requested_word_becomes_the_form_of_the_closest_known_one(cased):
    assert cased.closest("kernal") == "Kernel"
    assert cased.closest("Unux") == "UNIX"
    assert cased.closest("daemons") == "daemon"  # a two-column line: the word is its own form


def test_a_mention_seeds_with_the_form_however_it_was_said(cased):
    assert cased.from_mention(["KERNEL", "lanterns"]) == ("lanterns", "Lantern")
    assert cased.from_mention(["kernel"]) == ("kernel", "Kernel")


def test_a_form_that_is_not_a_casing_of_its_word_names_the_line(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text("kernel\t5\tKernel\nunix\t3\tLinux\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"words.txt:2: the form 'Linux' is not a casing of 'unix'"):
        SeedWords.from_file(path, familiar=10)


def test_a_bad_words_file_names_the_line(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text("kernel\t5\n\t3\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"words.txt:2: empty seed word"):
        SeedWords.from_file(path, familiar=10)
