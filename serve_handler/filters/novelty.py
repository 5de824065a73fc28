"""Score each draft's novelty against the training corpus, and reject those too close to it.

Every kept draft leaves with `novelty` set, which the response reports: the minimum of the whole text's novelty
and that of each of its sentences of at least MIN_SENTENCE_WORDS words, each 1 - similarity to its nearest
indexed training line or sentence (NoveltyIndex.novelty, serve_handler/novelty.py). So a draft is rejected when
the whole text is a near copy of a training line or sentence, or when any of its long-enough sentences is, "near"
meaning novelty below its own request's `min_novelty` (similarity above 1 - min_novelty; 0 keeps all). A draft
with nothing left after normalization (only punctuation and spaces) has no meaningful novelty and is rejected
here, since the index refuses to score it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import ClassVar

from serve_handler.filters.base import CandidateFilter, Draft
from serve_handler.novelty import NoveltyIndex
from serve_handler.request import GenerationRequest
from textrules.forms import novelty_form


class NoveltyFilter(CandidateFilter):
    reason: ClassVar[str] = "novelty"

    def __init__(self, index: NoveltyIndex) -> None:
        self.index = index

    def __call__(self, drafts: Sequence[Draft], requests: Sequence[GenerationRequest]) -> list[Draft | None]:
        scorable = [bool(novelty_form(draft.text)) for draft in drafts]
        scores = iter(self.index.novelty_many(draft.text for draft, ok in zip(drafts, scorable) if ok))
        kept: list[Draft | None] = []
        for draft, ok in zip(drafts, scorable):
            novelty = next(scores) if ok else None
            if novelty is None or novelty < requests[draft.request_index].min_novelty:
                kept.append(None)
            else:
                kept.append(replace(draft, novelty=novelty))
        return kept
