"""Reject drafts that contain a blocked term, however obscured (see textrules/blocklist.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from serve_handler.filters.base import CandidateFilter, Draft
from serve_handler.request import GenerationRequest
from textrules.blocklist import Blocklist


class BlocklistFilter(CandidateFilter):
    reason: ClassVar[str] = "blocklist"

    def __init__(self, blocklist: Blocklist) -> None:
        self.blocklist = blocklist

    def __call__(self, drafts: Sequence[Draft], requests: Sequence[GenerationRequest]) -> list[Draft | None]:
        return [draft if self.blocklist.blocked(draft.text) is None else None for draft in drafts]
