"""Run candidate filters one after another and count what each rejects, per request.

    chain = default_chain(settings, blocklist, novelty_index)
    survivors, rejected = chain.run(drafts, requests)

`survivors` keeps the drafts' order; `rejected[i]` counts request i's rejections by reason, with every reason of
the chain present (0 when none): the response's "rejected" object. Each filter sees only the drafts the earlier
ones kept, so a draft is counted once, under the first reason that rejected it.
"""

from __future__ import annotations

from collections.abc import Sequence

from serve_handler.filters.base import CandidateFilter, Draft
from serve_handler.filters.blocklist import BlocklistFilter
from serve_handler.filters.duplicate import DuplicateFilter
from serve_handler.filters.length import LengthBounds
from serve_handler.filters.novelty import NoveltyFilter
from serve_handler.filters.sentence_end import SentenceEndCut
from serve_handler.filters.toxicity import ToxicityFilter
from serve_handler.novelty import NoveltyIndex
from serve_handler.request import GenerationRequest
from serve_handler.settings import HandlerSettings
from textrules.blocklist import Blocklist


class FilterChain:
    def __init__(self, filters: Sequence[CandidateFilter]) -> None:
        self.filters = tuple(filters)
        if len(set(self.reasons)) != len(self.reasons):
            raise ValueError(f"filter reasons must be unique, got {self.reasons}")

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(candidate_filter.reason for candidate_filter in self.filters)

    def run(
        self, drafts: Sequence[Draft], requests: Sequence[GenerationRequest]
    ) -> tuple[list[Draft], list[dict[str, int]]]:
        """Survivors in their original order, and per request (index = request_index) the count of rejections by
        reason, every reason present (0 when none). Each filter sees only what earlier filters kept."""
        rejected = [dict.fromkeys(self.reasons, 0) for _ in requests]
        alive = list(drafts)
        for candidate_filter in self.filters:
            kept = []
            for draft, verdict in zip(alive, candidate_filter(alive, requests), strict=True):
                if verdict is None:
                    rejected[draft.request_index][candidate_filter.reason] += 1
                else:
                    kept.append(verdict)
            alive = kept
        return alive, rejected


def default_chain(settings: HandlerSettings, blocklist: Blocklist, novelty: NoveltyIndex) -> FilterChain:
    """The handler's filters, cheapest and most decisive first; novelty scores only what may be served, and the
    duplicate check runs last so that a text is not held back as a duplicate of one rejected later."""
    return FilterChain([
        SentenceEndCut(),
        LengthBounds(settings.min_chars, settings.max_chars),
        BlocklistFilter(blocklist),
        ToxicityFilter(settings.toxicity_threshold),
        NoveltyFilter(novelty),
        DuplicateFilter(),
    ])
