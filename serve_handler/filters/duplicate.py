"""Reject a draft whose text equals that of an earlier kept draft anywhere in the batch.

Texts are compared in the novelty check's normal form (textrules.forms.novelty_form: case, spacing and edge
punctuation ignored), so "It works." and "it works" are the same text. Across requests too: two requests served
in one batch never get the same text, e.g. two posters asking at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from serve_handler.filters.base import CandidateFilter, Draft
from serve_handler.request import GenerationRequest
from textrules.forms import novelty_form


class DuplicateFilter(CandidateFilter):
    reason: ClassVar[str] = "duplicate"

    def __call__(self, drafts: Sequence[Draft], requests: Sequence[GenerationRequest]) -> list[Draft | None]:
        seen: set[str] = set()
        kept: list[Draft | None] = []
        for draft in drafts:
            key = novelty_form(draft.text)
            kept.append(None if key in seen else draft)
            seen.add(key)
        return kept
