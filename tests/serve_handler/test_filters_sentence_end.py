"""SentenceEndCut: where an incomplete draft is cut, what counts as a sentence end, and what is rejected."""

from __future__ import annotations

import pytest

from serve_handler.filters import Draft, SentenceEndCut
from serve_handler.request import request_from_fields

REQUESTS = [request_from_fields({"n": 1})]


def cut(text: str, complete: bool = False) -> Draft | None:
    (result,) = SentenceEndCut()([Draft(0, text, -1.5, complete)], REQUESTS)
    return result


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("He left. Then he came back and", "He left."),
        ("One. Two! Three? Four and", "One. Two! Three?"),
        ("Really?! Then we", "Really?!"),
        ('She said "stop." and then', 'She said "stop."'),
        ("She said “stop!” and then", "She said “stop!”"),
        ("It crashed (again.) Then it", "It crashed (again.)"),
        ("Wait… and then", "Wait…"),
        ("Wait... and then", "Wait..."),
        ("It works.  Two spaces and", "It works."),
        ("It works.\tA tab and", "It works."),
        ("It ends at the budget.", "It ends at the budget."),
        # a full stop followed by a non-space ends nothing
        ("It costs 3.5 dollars. The price of 2.5", "It costs 3.5 dollars."),
        ("The host example.com is down. See example.com", "The host example.com is down."),
        # abbreviations: inner full stops, capital initials, titles
        ("Use a tool, e.g. grep. Or use e.g. sed", "Use a tool, e.g. grep."),
        ("Use a tool (e.g. grep) for this. Or use i.e. sed", "Use a tool (e.g. grep) for this."),
        ("Made in the U.S. by hand. And the U.S. is", "Made in the U.S. by hand."),
        ("Ask J. Random Hacker. Or ask J. Random", "Ask J. Random Hacker."),
        ("Mr. Smith fixed it. Then Dr. Jones", "Mr. Smith fixed it."),
        # "etc." and a lowercase one-letter word do end sentences
        ("Files, dirs, etc. Then more", "Files, dirs, etc."),
        ("Call it x. Then y", "Call it x."),
    ],
)
def test_incomplete_draft_is_cut_after_its_last_sentence_end(text: str, expected: str) -> None:
    result = cut(text)
    assert result is not None
    assert result.text == expected


@pytest.mark.parametrize(
    "text",
    [
        "no sentence end at all",
        "version 3.5 of the",
        "the file.txt is",
        "what?!x and",
        "see e.g.",
        "see e.g. the",
        "call Mr.",
        "ask J.",
    ],
)
def test_incomplete_draft_without_a_sentence_end_is_rejected(text: str) -> None:
    assert cut(text) is None


@pytest.mark.parametrize("text", ["no sentence end at all", "He left. Then he came back and"])
def test_complete_draft_is_kept_as_it_is(text: str) -> None:
    draft = Draft(0, text, -1.5, True)
    assert SentenceEndCut()([draft], REQUESTS) == [draft]


def test_cut_changes_only_the_text() -> None:
    draft = Draft(0, "Done. And then", -2.25, False)
    (result,) = SentenceEndCut()([draft], REQUESTS)
    assert result == Draft(0, "Done.", -2.25, False)


def test_answers_every_draft_in_order() -> None:
    drafts = [Draft(0, "a b c", -1.0, False), Draft(0, "Ok. b", -1.0, False), Draft(0, "x", -1.0, True)]
    assert SentenceEndCut()(drafts, REQUESTS) == [None, Draft(0, "Ok.", -1.0, False), drafts[2]]
