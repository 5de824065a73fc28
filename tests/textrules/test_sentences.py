"""One list of abbreviations: the corpus build's splitter and the worker's sentence-end cut agree on it."""

from __future__ import annotations

import pytest

from dataset.sentences import split_sentences
from serve_handler.filters.sentence_end import cut_at_sentence_end
from textrules.sentences import ABBREVIATIONS, CLOSERS, is_abbreviation


@pytest.mark.parametrize(
    ("word", "expected"),
    [("Dr", True), ("dr", True), ("obs", True), ("e.g", True), ("U.S", True), ("(e.g", True), ("J", True),
     ("x", False), ("etc", False), ("word", False), ("3", False), ("", False)],
)
def test_is_abbreviation(word: str, expected: bool) -> None:
    assert is_abbreviation(word) is expected


@pytest.mark.parametrize("word", sorted(ABBREVIATIONS) + ["e.g", "J"])
def test_no_side_ends_a_sentence_after_an_abbreviation(word: str) -> None:
    text = f"See {word.capitalize()}. Next one"
    assert split_sentences(text) == [text]
    assert cut_at_sentence_end(text, complete=False) is None


@pytest.mark.parametrize("word", ["x", "etc", "there"])
def test_both_sides_end_a_sentence_after_other_words(word: str) -> None:
    text = f"See {word}. Next one"
    assert split_sentences(text) == [f"See {word}.", "Next one"]
    assert cut_at_sentence_end(text, complete=False) == f"See {word}."


@pytest.mark.parametrize("closer", list(CLOSERS))
def test_both_sides_end_a_sentence_after_the_same_closing_marks(closer: str) -> None:
    text = f"It ended.{closer} Then more"
    assert split_sentences(text) == [f"It ended.{closer}", "Then more"]
    assert cut_at_sentence_end(text, complete=False) == f"It ended.{closer}"
