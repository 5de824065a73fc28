"""Reject drafts shorter than `min_chars` or longer than `max_chars` characters (both bounds inclusive)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from serve_handler.filters.base import CandidateFilter, Draft
from serve_handler.request import GenerationRequest


class LengthBounds(CandidateFilter):
    reason: ClassVar[str] = "length"

    def __init__(self, min_chars: int, max_chars: int) -> None:
        if not 0 <= min_chars <= max_chars:
            raise ValueError(f"length bounds must satisfy 0 <= min_chars <= max_chars, got {min_chars}, {max_chars}")
        self.min_chars = min_chars
        self.max_chars = max_chars

    def __call__(self, drafts: Sequence[Draft], requests: Sequence[GenerationRequest]) -> list[Draft | None]:
        return [draft if self.min_chars <= len(draft.text) <= self.max_chars else None for draft in drafts]
