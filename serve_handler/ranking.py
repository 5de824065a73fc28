"""Ranking the candidates that survived the filters: best first.

A `Ranker` gives every draft a score, higher is better; the response reports it as "score" and names the ranker
in "ranked_by". `LogprobRanker` (the generator's mean token log-probability) is the fallback when the archive
holds no selector; the selector (the next piece of work, contract 3) implements the same interface and gives a
calibrated probability that the text is worth posting.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from serve_handler.filters.base import Draft


class Ranker(Protocol):
    name: str

    def scores(self, drafts: Sequence[Draft]) -> list[float]:
        """One score per draft, in order; higher is better."""
        ...


class LogprobRanker:
    name = "logprob"

    def scores(self, drafts: Sequence[Draft]) -> list[float]:
        return [draft.mean_logprob for draft in drafts]
