"""Ranking the candidates that survived the filters, and choosing a request's texts from them.

A `Ranker` gives every draft a score, higher is better; the response reports it as "score" and names the ranker
in "ranked_by". `SelectorRanker` gives the selector's calibrated probability that the text is worth posting
(serve_handler/selector.py); `LogprobRanker` (the generator's mean token log-probability) is the fallback when
the archive holds no selector.

`choose` is epsilon-greedy: each of the n slots takes the best candidate left, except that with probability
`explore` it takes a random one of the others (an exploratory text), so that engagement feedback also reaches
texts the ranker would not have picked.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Protocol

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from serve_handler.filters.base import Draft
from serve_handler.selector import Selector


class Ranker(Protocol):
    name: str

    def scores(self, drafts: Sequence[Draft]) -> list[float]:
        """One score per draft, in order; higher is better."""
        ...


class LogprobRanker:
    name = "logprob"

    def scores(self, drafts: Sequence[Draft]) -> list[float]:
        return [draft.mean_logprob for draft in drafts]


class SelectorRanker:
    name = "selector"

    def __init__(self, selector: Selector, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> None:
        self.selector = selector
        self.model = model
        self.tokenizer = tokenizer

    def scores(self, drafts: Sequence[Draft]) -> list[float]:
        if not drafts:
            return []
        return self.selector.probabilities(self.model, self.tokenizer, [draft.text for draft in drafts])


def choose(
    scored: Sequence[tuple[float, Draft]], n: int, explore: float, rng: random.Random
) -> list[tuple[float, Draft, bool]]:
    """Up to n (score, draft, exploratory) picks, in the order picked; see the module docstring."""
    left = sorted(scored, key=lambda pair: pair[0], reverse=True)
    picks = []
    while left and len(picks) < n:
        exploratory = len(left) > 1 and explore > 0 and rng.random() < explore
        score, draft = left.pop(rng.randrange(1, len(left)) if exploratory else 0)
        picks.append((score, draft, exploratory))
    return picks
