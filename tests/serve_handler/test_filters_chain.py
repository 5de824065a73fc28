"""FilterChain: survivors in order, rejections counted per request under every reason, filters see survivors;
default_chain: the handler's filters in their order, working together."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import pytest

from serve_handler.filters import CandidateFilter, Draft, FilterChain, default_chain
from serve_handler.novelty import NoveltyIndex
from serve_handler.request import GenerationRequest, request_from_fields
from serve_handler.settings import HandlerSettings
from textrules.blocklist import Blocklist

REASONS = ("sentence_end", "length", "blocklist", "toxicity", "novelty", "duplicate")


def request(**fields: object) -> GenerationRequest:
    return request_from_fields({"n": 1, **fields})


class RejectContaining(CandidateFilter):
    """Rejects drafts containing `word` and records what it was shown."""

    def __init__(self, reason: str, word: str) -> None:
        self.reason = reason  # type: ignore[misc]  # per instance, so one test class serves several reasons
        self.word = word
        self.seen: list[str] = []

    def __call__(self, drafts: Sequence[Draft], requests: Sequence[GenerationRequest]) -> list[Draft | None]:
        self.seen += [draft.text for draft in drafts]
        return [None if self.word in draft.text else draft for draft in drafts]


class Shout(CandidateFilter):
    reason: ClassVar[str] = "shout"

    def __call__(self, drafts: Sequence[Draft], requests: Sequence[GenerationRequest]) -> list[Draft | None]:
        return [Draft(d.request_index, d.text.upper(), d.mean_logprob, d.complete) for d in drafts]


def test_chain_counts_per_request_and_each_filter_sees_only_survivors() -> None:
    first, second = RejectContaining("apple", "apple"), RejectContaining("pear", "pear")
    chain = FilterChain([first, Shout(), second])
    batch = [
        Draft(0, "apple pie", -1.0, True),
        Draft(1, "pear tart", -1.0, True),
        Draft(2, "apple and pear", -1.0, True),
        Draft(1, "plum cake", -1.0, True),
        Draft(0, "pear jam", -1.0, True),
    ]
    survivors, rejected = chain.run(batch, [request(), request(), request()])

    assert chain.reasons == ("apple", "shout", "pear")
    assert [draft.text for draft in survivors] == ["PEAR TART", "PLUM CAKE", "PEAR JAM"]  # changed, in order
    assert first.seen == [draft.text for draft in batch]
    assert second.seen == ["PEAR TART", "PLUM CAKE", "PEAR JAM"]  # only what the earlier filters kept
    assert rejected == [
        {"apple": 1, "shout": 0, "pear": 0},
        {"apple": 0, "shout": 0, "pear": 0},
        {"apple": 1, "shout": 0, "pear": 0},  # counted once, under the first reason
    ]


def test_chain_of_no_drafts_counts_zero_for_every_request() -> None:
    chain = FilterChain([RejectContaining("apple", "apple")])
    assert chain.run([], [request(), request()]) == ([], [{"apple": 0}, {"apple": 0}])


def test_chain_refuses_two_filters_with_one_reason() -> None:
    with pytest.raises(ValueError, match="unique"):
        FilterChain([RejectContaining("fruit", "apple"), RejectContaining("fruit", "pear")])


def test_chain_refuses_a_filter_that_drops_answers() -> None:
    class DropsOne(CandidateFilter):
        reason: ClassVar[str] = "broken"

        def __call__(self, drafts, requests):
            return list(drafts)[1:]

    with pytest.raises(ValueError):
        FilterChain([DropsOne()]).run([Draft(0, "a", -1.0, True), Draft(0, "b", -1.0, True)], [request()])


def test_default_chain_rejects_each_reason_and_counts_per_request() -> None:
    training = "The old wizard patched the kernel before dawn."
    index = NoveltyIndex.from_sentences([training])
    settings = HandlerSettings(min_chars=12, max_chars=80, toxicity_threshold=0.5)
    chain = default_chain(settings, Blocklist(["kludge"]), index)
    strict, lenient = request(min_novelty=0.25), request(min_novelty=0.0)
    good = "Nobody expected the compiler to write poetry."
    batch = [
        Draft(0, "a line the token budget cut off and", -1.0, False),  # sentence_end
        Draft(0, "Too short. And then the budget ran out", -1.0, False),  # cut to "Too short.": length
        Draft(0, "This whole k-l-u-d-g-e should never have shipped.", -1.0, True),  # blocklist
        Draft(0, "You are a fucking idiot and your code is shit.", -1.0, True),  # toxicity
        Draft(0, training.upper(), -1.0, True),  # novelty: a copy, too close for request 0
        Draft(0, good + " Then the budget ran", -1.0, False),  # kept, cut
        Draft(1, training, -1.0, True),  # kept: request 1 accepts copies, and request 0's copy was rejected
        Draft(1, good.lower(), -1.0, True),  # duplicate of request 0's kept text
    ]
    survivors, rejected = chain.run(batch, [strict, lenient])

    assert chain.reasons == REASONS
    assert [(draft.request_index, draft.text) for draft in survivors] == [(0, good), (1, training)]
    assert [draft.novelty for draft in survivors] == [index.novelty(good), 0.0]
    assert rejected == [
        {"sentence_end": 1, "length": 1, "blocklist": 1, "toxicity": 1, "novelty": 1, "duplicate": 0},
        {"sentence_end": 0, "length": 0, "blocklist": 0, "toxicity": 0, "novelty": 0, "duplicate": 1},
    ]


def test_default_chain_with_toxicity_off_keeps_profanity() -> None:
    chain = default_chain(HandlerSettings(toxicity_threshold=1.0), Blocklist([]), NoveltyIndex.from_sentences([]))
    profane = Draft(0, "You are a fucking idiot and your code is shit.", -1.0, True)
    survivors, rejected = chain.run([profane], [request()])
    assert [draft.text for draft in survivors] == [profane.text]
    assert rejected == [dict.fromkeys(REASONS, 0)]
