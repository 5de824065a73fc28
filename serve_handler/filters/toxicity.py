"""Reject drafts that the offline profanity model (alt-profanity-check) finds likely profane.

The model is a linear SVM over TF-IDF features that ships inside the package, so nothing downloads. It is
scored on all drafts of the batch in one call. A draft is rejected when its probability is at least
`threshold`; a threshold of 1.0 turns the check off, and then the model is neither loaded nor called.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from serve_handler.filters.base import CandidateFilter, Draft
from serve_handler.request import GenerationRequest


class ToxicityFilter(CandidateFilter):
    reason: ClassVar[str] = "toxicity"

    def __init__(self, threshold: float) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"toxicity threshold must be in [0, 1], got {threshold}")
        self.threshold = threshold
        self.enabled = threshold < 1.0
        if self.enabled:
            # Imported here, not at module level: loading the model takes a second, and only a worker needs it.
            from profanity_check import predict_prob

            self._predict_prob = predict_prob

    def __call__(self, drafts: Sequence[Draft], requests: Sequence[GenerationRequest]) -> list[Draft | None]:
        if not self.enabled or not drafts:  # the model refuses an empty batch
            return list(drafts)
        probabilities = self._predict_prob([draft.text for draft in drafts])
        return [draft if float(p) < self.threshold else None for draft, p in zip(drafts, probabilities, strict=True)]
