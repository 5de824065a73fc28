"""Reject a draft whose text equals that of an earlier kept draft anywhere in the batch.

Texts are compared in the novelty check's normalized form (case, spacing and edge punctuation ignored), so
"It works." and "it works" are the same text. Across requests too: two requests served in one batch never get
the same text, e.g. two posters asking at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from serve_handler.filters.base import CandidateFilter, Draft
from serve_handler.novelty import normalize
from serve_handler.request import GenerationRequest


class DuplicateFilter(CandidateFilter):
    reason: ClassVar[str] = "duplicate"

    def __call__(self, drafts: Sequence[Draft], requests: Sequence[GenerationRequest]) -> list[Draft | None]:
        seen: set[str] = set()
        kept: list[Draft | None] = []
        for draft in drafts:
            key = normalize(draft.text)
            kept.append(None if key in seen else draft)
            seen.add(key)
        return kept
