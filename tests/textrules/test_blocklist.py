"""The blocklist: each obscured spelling it must see through, whole-word matching, and phrases."""

from __future__ import annotations

import time

import pytest

from textrules.blocklist import Blocklist
from textrules.forms import blocklist_form


@pytest.fixture
def blocklist() -> Blocklist:
    return Blocklist(["bad", "ass", "evil", "kill", "stolen goods"])


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("that was bad", "bad"),
        ("That was BAD.", "bad"),  # case
        ("b4d", "bad"),  # 4 -> a
        ("b@d", "bad"),  # @ -> a
        ("3vil plans", "evil"),  # 3 -> e
        ("ev1l", "evil"),  # 1 -> i
        ("ev!l", "evil"),  # ! -> i
        ("ev|l", "evil"),  # | -> i
        ("ki11 it", "kill"),  # 1 -> l
        ("ki!| it", "kill"),  # ! and | -> l
        ("3v!1", "evil"),  # several stand-ins at once
        ("a55", "ass"),  # 5 -> s
        ("a$$", "ass"),  # $ -> s
        ("5t0len g00ds", "stolen goods"),  # 0 -> o, 5 -> s
        ("s7olen goods", "stolen goods"),  # 7 -> t
        ("b.a.d", "bad"),  # inserted punctuation
        ("b a d", "bad"),  # inserted spaces
        ("b - a - d", "bad"),  # up to three separators between letters
        ("b_a_d", "bad"),  # underscore is a separator, not a letter
        ("baaaad", "bad"),  # repeated letters
        ("baaaaaaaaaaaad", "bad"),  # a long run is cut to three first
        ("bbaaddd!", "bad"),
        ("b.a.a.a.d", "bad"),  # repeats and separators together
        ("ÉVÏL", "evil"),  # diacritics
        ("bád", "bad"),
        ("ｂａｄ", "bad"),  # fullwidth letters (NFKD)
        ("that's bad!", "bad"),  # punctuation right after the word is a boundary
    ],
)
def test_sees_through_obscured_spellings(blocklist: Blocklist, text: str, term: str) -> None:
    assert blocklist.blocked(text) == term


@pytest.mark.parametrize(
    "text",
    [
        "a classic assassin in Scunthorpe",  # "ass" inside longer words
        "the badge of the baddie",  # "bad" inside longer words
        "devilish skills, killer",  # "evil", "kill" inside longer words
        "Essex bass player",
        "b4dg3",  # stand-ins inside a longer word are still inside a longer word
        "bad4",  # a digit touching the word
        "b-.-.a-.-.d",  # more than three separators between letters
        "as",  # a repeated letter of the term cannot be dropped
        "",
    ],
)
def test_innocent_text_passes(blocklist: Blocklist, text: str) -> None:
    assert blocklist.blocked(text) is None


def test_phrases_match_across_spaces_and_punctuation_but_as_whole_words() -> None:
    blocklist = Blocklist(["stolen goods"])

    for text in ["sells stolen goods", "STOLEN-GOODS", "stolengoods", "st0len   g00ds", "stolen, goods"]:
        assert blocklist.blocked(text) == "stolen goods", text
    for text in ["stolen", "goods", "stolen cars and goods", "unstolen goods", "stolen goodsmen"]:
        assert blocklist.blocked(text) is None, text


def test_reports_the_term_as_listed_and_the_leftmost_match() -> None:
    blocklist = Blocklist(["Bad", "EVIL"])

    assert blocklist.blocked("evil, then bad") == "EVIL"
    assert blocklist.blocked("bad, then evil") == "Bad"


def test_stand_ins_inside_a_term_match_the_letters_they_stand_for() -> None:
    blocklist = Blocklist(["a$$"])

    for text in ["ass", "a55", "@$s"]:
        assert blocklist.blocked(text) == "a$$", text
    assert blocklist.blocked("class") is None


def test_single_letter_words_can_spell_a_term_across_word_breaks() -> None:
    """The documented price of catching "b a d": innocent single letters can line up the same way."""
    assert Blocklist(["bad"]).blocked("plan b, a d-minus") == "bad"


def test_an_empty_blocklist_blocks_nothing() -> None:
    assert Blocklist([]).blocked("bad evil ass") is None


def test_a_term_without_letters_is_refused() -> None:
    with pytest.raises(ValueError, match="'  ...  '"):
        Blocklist(["bad", "  ...  "])


def test_blocklist_form_drops_accents_folds_case_and_cuts_long_runs() -> None:
    assert blocklist_form("Crème BRÛLÉE Straße") == "creme brulee strasse"
    assert blocklist_form("Nooooo!!!!!! ...") == "nooo!!! ..."


def test_hostile_input_does_not_make_the_regex_backtrack_for_long() -> None:
    # Terms whose neighbouring letters share stand-ins (i and l both take 1 ! |) against long runs of them.
    # Each text fails only at its last character, after every way of splitting the run could be tried.
    blocklist = Blocklist(["ill", "l1l1", "kill", "assss"])
    hostile = ["1" * 5000 + "x", "k" + "1" * 5000 + "x", "a" + "s" * 5000 + "x"]

    started = time.perf_counter()
    assert [blocklist.blocked(text) for text in hostile] == [None, None, None]
    assert time.perf_counter() - started < 2.0  # unbounded repeats took minutes on a tenth of this
