"""What every candidate filter shares: the `Draft` it judges and the `CandidateFilter` interface.

A filter takes the drafts still alive (every request of the TorchServe batch together, so a model-backed check
runs once per batch) and the batch's requests, and answers one entry per draft, in the same order: None rejects
the draft, a Draft keeps it, possibly changed (cut shorter, novelty set). `FilterChain` (chain.py) counts the
rejections of each filter under its `reason`, the key of the response's "rejected" object.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from serve_handler.request import GenerationRequest


@dataclass(frozen=True)
class Draft:
    """One candidate on its way through the filters."""

    request_index: int  # which request of the TorchServe batch it belongs to
    text: str
    mean_logprob: float
    complete: bool  # the model ended the line itself (Candidate.complete)
    novelty: float | None = None  # set by the novelty filter


class CandidateFilter(ABC):
    """One check on the drafts of a whole batch (see the module docstring)."""

    reason: ClassVar[str]  # the key it is counted under in the response's "rejected"

    @abstractmethod
    def __call__(self, drafts: Sequence[Draft], requests: Sequence[GenerationRequest]) -> list[Draft | None]:
        """Same length and order as drafts: None rejects, a (possibly changed) Draft keeps."""
