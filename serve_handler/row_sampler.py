"""Per-row sampling inside one batched `generate` call, so that a row's text depends only on its own seed.

`generate` samples every row from torch's one global generator, so a request's texts would change with whatever
else shares its batch. `RowSampler` is the last `LogitsProcessor` of a *greedy* `generate` call and does the
sampling itself, one row at a time:

1. It applies each row's own warper chain (temperature, top-k, top-p, typical, or Mirostat). Rows with the same
   settings form a group and run through one chain of the stock transformers warpers on their slice of the batch,
   so settings may differ freely inside one `generate` call.
2. It draws the row's next token from softmax(warped scores) with the row's own `random.Random` (inverse CDF: one
   uniform number per row per step, drawn every step whether or not the row is still running, so a row's draws
   never depend on how long its batch runs). A `random.Random` rather than a `torch.Generator`: one draw is a
   cheap Python call instead of a torch op per row per step, and it gives the same numbers on CPU and GPU.
3. It returns scores that are -inf everywhere but the drawn token, which greedy decoding then takes.

A row ends itself when it draws the end-of-text token or a token holding a newline (`stop_token_ids`: the text
is cut at the first newline anyway, so what would follow costs compute and tells nothing). Each row also has a
budget of new tokens: once spent, the row is forced to end. An ended row is sent the end-of-text token from then
on, which stops it inside `generate` (a forced end-of-text is never drawn by the model), so rows of different
`max_new_tokens` share one call. `ended()` after the call says which rows the model ended itself: only those
are complete texts, however long the rest of their batch ran. While a row runs, the sampler sums the
log-probability, under the model's raw distribution, of every token it draws (the one that ends it included, a
forced end-of-text not): `mean_logprobs()` after the call.

Contract: one fresh instance per `generate` call; the prompt is left padded to `prompt_length` columns.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers import LogitsProcessor


@dataclass(frozen=True)
class RowGroup:
    """Rows (indices into the batch) that share one warper chain, applied in order."""

    rows: Sequence[int]
    warpers: Sequence[LogitsProcessor]


class RowSampler(LogitsProcessor):
    """Draws each row's next token with that row's own random stream; see the module docstring."""

    def __init__(
        self,
        groups: Sequence[RowGroup],
        streams: Sequence[random.Random],
        budgets: Sequence[int],
        prompt_length: int,
        eos_token_id: int,
        stop_token_ids: Sequence[int] = (),
    ) -> None:
        self._groups = groups
        self._group_rows = [torch.tensor(group.rows, dtype=torch.long) for group in groups]
        self._streams = streams
        self._prompt_length = prompt_length
        self._eos = eos_token_id
        self._stops = torch.tensor(sorted({eos_token_id, *stop_token_ids}), dtype=torch.long)
        self._ended = torch.zeros(len(streams), dtype=torch.bool)
        self._budgets = torch.tensor(budgets, dtype=torch.long)
        self._finished = torch.zeros(len(streams), dtype=torch.bool)
        self._logprob_sums = torch.zeros(len(streams), dtype=torch.float64)
        self._token_counts = torch.zeros(len(streams), dtype=torch.long)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.Tensor) -> torch.Tensor:
        device = scores.device
        step = input_ids.shape[1] - self._prompt_length
        scores = scores.float()
        logprobs = torch.log_softmax(scores, dim=-1)

        self._move_state_to(device)
        warped = scores.clone()
        for group, rows in zip(self._groups, self._group_rows):
            group_ids, group_scores = input_ids[rows], warped[rows]
            for warper in group.warpers:
                group_scores = warper(group_ids, group_scores)
            warped[rows] = group_scores

        # Inverse CDF: the first token whose cumulative probability passes u; scaling u by the total keeps float
        # rounding from running past the end, and `right=True` never lands on a zero-probability token.
        cumulative = torch.softmax(warped, dim=-1).cumsum(dim=-1)
        uniforms = torch.tensor([stream.random() for stream in self._streams], dtype=torch.float32, device=device)
        targets = (uniforms * cumulative[:, -1])[:, None]
        drawn = torch.searchsorted(cumulative, targets, right=True).clamp_(max=scores.shape[-1] - 1).squeeze(1)

        spent = step >= self._budgets
        active = ~self._finished & ~spent
        drawn = torch.where(active, drawn, torch.full_like(drawn, self._eos))  # an ended row: end-of-text, forced
        drawn_logprobs = logprobs.gather(1, drawn[:, None]).squeeze(1).double()
        self._logprob_sums += torch.where(active, drawn_logprobs, 0.0)
        self._token_counts += active.long()
        self._ended |= active & torch.isin(drawn, self._stops)
        self._finished |= self._ended | spent

        chosen = torch.full_like(scores, -math.inf)
        chosen.scatter_(1, drawn[:, None], 0.0)
        return chosen

    def _move_state_to(self, device: torch.device) -> None:
        """The state lives where the scores are, so a step transfers nothing but the uniforms (a no-op after one)."""
        self._group_rows = [rows.to(device) for rows in self._group_rows]
        self._budgets = self._budgets.to(device)
        self._stops = self._stops.to(device)
        self._ended = self._ended.to(device)
        self._finished = self._finished.to(device)
        self._logprob_sums = self._logprob_sums.to(device)
        self._token_counts = self._token_counts.to(device)

    def ended(self) -> list[bool]:
        """Per row, whether the model ended it (drew end-of-text or a newline) rather than its budget."""
        return self._ended.tolist()

    def mean_logprobs(self) -> list[float]:
        """Per row, the mean log-probability (natural log) of the tokens it drew before it stopped."""
        return (self._logprob_sums / self._token_counts.clamp(min=1)).tolist()
