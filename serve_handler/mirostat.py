"""Mirostat v2 sampling as a transformers `LogitsProcessor`.

Mirostat (Basu et al., 2021, "Mirostat: A Neural Text Decoding Algorithm that Directly Controls Perplexity")
keeps the surprise of the sampled tokens near a target `tau`, in bits. Version 2, for each row of the batch:

1. `mu` starts at `2 * tau`.
2. Each step drops every token whose surprise `-log2 p` exceeds `mu` (the most likely token always stays) and
   renormalizes what is left.
3. Once a token has been sampled from that distribution: `mu <- mu - eta * (surprise of that token - tau)`,
   the surprise taken under the truncated, renormalized distribution it was sampled from.

A LogitsProcessor never sees the token sampled from its output, but the next call does: the last column of
`input_ids` at step t+1 is the token sampled at step t. So the processor keeps the truncated log-probs it made at
step t and does step 3 at the start of step t+1, before it truncates again. Padding (left or finished rows) does
not matter: only the last column is read.

Contract for callers:
- Give every `generate` call a fresh instance. The state also resets itself when a call does not continue the
  previous one (another batch size, or a sequence length that is not one more than last time), but a new
  generation whose prompt is exactly one token longer than the previous sequences cannot be told apart.
- Mirostat must be the last warper, so that what it truncates is what gets sampled. `generate` runs the
  processors passed as `logits_processor=` *before* the warpers it builds itself, so put a
  `TemperatureLogitsWarper` ahead of this one in that list and call `generate` with `temperature=1.0`,
  `top_k=0` (its default is 50) and `top_p=1.0`.
- A row whose last token had zero probability under the previous truncation did not sample from it (generate
  pads finished rows with the pad token): that row keeps its `mu`.
"""

from __future__ import annotations

import math

import torch
from transformers import LogitsProcessor

_LN2 = math.log(2.0)


class MirostatLogitsWarper(LogitsProcessor):
    """Mirostat v2 with one `mu` per row; `tau` is the target surprise in bits, `eta` the learning rate."""

    def __init__(self, tau: float, eta: float = 0.1) -> None:
        for name, value in (("tau", tau), ("eta", eta)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"mirostat {name} must be a finite number > 0, got {value!r}")
        self.tau = float(tau)
        self.eta = float(eta)
        self.mu: torch.Tensor | None = None  # [batch] float32, in bits
        self._previous_logprobs: torch.Tensor | None = None  # [batch, vocab] truncated log-probs of the last step
        self._previous_length = -1

    def __call__(self, input_ids: torch.LongTensor, scores: torch.Tensor) -> torch.Tensor:
        batch, length = input_ids.shape
        continues = self.mu is not None and self.mu.shape[0] == batch and length == self._previous_length + 1
        if not continues:
            self.mu = torch.full((batch,), 2.0 * self.tau, dtype=torch.float32, device=scores.device)
            self._previous_logprobs = None
        if self._previous_logprobs is not None:
            self._update_mu(input_ids[:, -1])

        logprobs = torch.log_softmax(scores.float(), dim=-1)
        drop = -logprobs / _LN2 > self.mu[:, None]
        drop.scatter_(1, logprobs.argmax(dim=-1, keepdim=True), False)

        self._previous_logprobs = torch.log_softmax(logprobs.masked_fill(drop, -math.inf), dim=-1)
        self._previous_length = length
        return scores.masked_fill(drop, -math.inf)

    def _update_mu(self, sampled: torch.LongTensor) -> None:
        observed = -self._previous_logprobs.gather(1, sampled[:, None]).squeeze(1) / _LN2
        came_from_us = torch.isfinite(observed)
        self.mu = torch.where(came_from_us, self.mu - self.eta * (observed - self.tau), self.mu)
