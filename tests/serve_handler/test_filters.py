"""The single candidate filters: length, blocklist, toxicity (the real offline model), novelty, duplicates.

SentenceEndCut has its own file (test_filters_sentence_end.py), the chain too (test_filters_chain.py).
"""

from __future__ import annotations

import profanity_check
import pytest

from serve_handler.filters import (
    BlocklistFilter,
    Draft,
    DuplicateFilter,
    LengthBounds,
    NoveltyFilter,
    ToxicityFilter,
)
from serve_handler.novelty import NoveltyIndex
from serve_handler.request import GenerationRequest, request_from_fields
from textrules.blocklist import Blocklist

TRAINING = [
    "The old wizard patched the kernel before dawn.",
    "A sleepy daemon forks the packet at night.",
]


def request(**fields: object) -> GenerationRequest:
    return request_from_fields({"n": 1, **fields})


ONE_REQUEST = [request()]


def drafts(*texts: str, request_index: int = 0) -> list[Draft]:
    return [Draft(request_index, text, -1.0, True) for text in texts]


def test_length_bounds_are_inclusive() -> None:
    batch = drafts("a" * 4, "a" * 5, "a" * 10, "a" * 11)
    assert LengthBounds(5, 10)(batch, ONE_REQUEST) == [None, batch[1], batch[2], None]


def test_length_counts_characters_not_bytes() -> None:
    batch = drafts("ééééé", "日本語のテキスト")
    assert LengthBounds(5, 8)(batch, ONE_REQUEST) == batch


def test_length_bounds_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="min_chars"):
        LengthBounds(10, 5)


def test_blocklist_rejects_obscured_spellings_and_keeps_clean_text() -> None:
    batch = drafts("That was b-4-d luck.", "That was BÁAAD.", "A badminton match.", "A clean text.")
    assert BlocklistFilter(Blocklist(["bad"]))(batch, ONE_REQUEST) == [None, None, batch[2], batch[3]]


def test_empty_blocklist_keeps_everything() -> None:
    batch = drafts("That was bad.")
    assert BlocklistFilter(Blocklist([]))(batch, ONE_REQUEST) == batch


def test_toxicity_rejects_a_profane_text_and_keeps_a_clean_one() -> None:
    batch = drafts("You are a fucking idiot and your code is shit.", "The old wizard patched the kernel at dawn.")
    assert ToxicityFilter(0.5)(batch, ONE_REQUEST) == [None, batch[1]]


def test_toxicity_scores_the_whole_batch_in_one_call_and_rejects_at_the_threshold(monkeypatch) -> None:
    calls = []

    def predict_prob(texts):
        calls.append(list(texts))
        return [0.5, 0.49, 0.9]

    monkeypatch.setattr(profanity_check, "predict_prob", predict_prob)
    batch = drafts("first", "second", "third")
    assert ToxicityFilter(0.5)(batch, ONE_REQUEST) == [None, batch[1], None]
    assert calls == [["first", "second", "third"]]


def test_toxicity_threshold_one_turns_the_check_off(monkeypatch) -> None:
    def predict_prob(texts):
        raise AssertionError("the model must not be called")

    monkeypatch.setattr(profanity_check, "predict_prob", predict_prob)
    batch = drafts("You are a fucking idiot.")
    assert ToxicityFilter(1.0)(batch, ONE_REQUEST) == batch


def test_toxicity_of_no_drafts_is_no_drafts() -> None:
    assert ToxicityFilter(0.5)([], ONE_REQUEST) == []


@pytest.mark.parametrize("threshold", [-0.1, 1.5])
def test_toxicity_threshold_out_of_range_is_refused(threshold: float) -> None:
    with pytest.raises(ValueError, match="threshold"):
        ToxicityFilter(threshold)


@pytest.fixture(scope="module")
def index() -> NoveltyIndex:
    return NoveltyIndex.from_sentences(TRAINING)


def test_novelty_is_set_on_kept_drafts_and_checked_against_each_requests_minimum(index: NoveltyIndex) -> None:
    copy = "the old wizard patched the kernel before dawn"  # an exact copy after normalization: novelty 0
    near = "The old wizard patched the kernels before noon."
    new = "Nobody expected the kernel to write poetry."  # shares "the kernel": similar enough to score below 1
    requests = [request(min_novelty=0.0), request(min_novelty=0.25), request(min_novelty=1.0)]
    near_novelty, new_novelty = index.novelty(near), index.novelty(new)
    assert 0 < near_novelty < 0.25 < new_novelty < 1.0  # the texts do what the test needs

    batch = [
        Draft(0, copy, -1.0, True),
        Draft(1, copy, -1.0, True),
        Draft(1, near, -1.0, True),
        Draft(1, new, -1.0, True),
        Draft(2, new, -1.0, True),
    ]
    assert NoveltyFilter(index)(batch, requests) == [
        Draft(0, copy, -1.0, True, novelty=0.0),
        None,
        None,
        Draft(1, new, -1.0, True, novelty=new_novelty),
        None,
    ]


def test_novelty_rejects_a_text_with_nothing_to_compare(index: NoveltyIndex) -> None:
    batch = drafts("?!?! ... !!!", "Nobody expected the compiler to write poetry.")
    result = NoveltyFilter(index)(batch, [request(min_novelty=0.0)])
    assert result[0] is None
    assert result[1] is not None and result[1].novelty == index.novelty(batch[1].text)


def test_duplicates_are_rejected_across_requests_after_normalization() -> None:
    batch = [
        Draft(0, "It works.", -1.0, True),
        Draft(1, "it   WORKS", -2.0, True),
        Draft(0, "Something else.", -1.0, True),
        Draft(0, "“It works!”", -3.0, True),
        Draft(1, "It works, mostly.", -1.0, True),
    ]
    assert DuplicateFilter()(batch, [request(), request()]) == [batch[0], None, batch[2], None, batch[4]]
