"""Fit the selector's head on precomputed features, and its Platt calibration.

The generator is frozen, so its features are computed once (`serve_handler.selector.text_features`) and the head
trains on them alone: AdamW on binary cross-entropy with logits, minibatches, the loss on a validation split
checked every `eval_every` steps, and the weights of the best check kept (early stop after `patience` checks
without improvement, or at `deadline`).

    train_head(train_x, train_y, val_x, val_y, ...) -> HeadFit
    fit_calibration(logits, labels) -> Calibration          p = sigmoid(a * logit + b), by logistic regression
"""

from __future__ import annotations

import copy
import math
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from sklearn.linear_model import LogisticRegression
from torch.nn.functional import binary_cross_entropy_with_logits
from tqdm import tqdm

from serve_handler.selector import Calibration, SelectorHead


@dataclass(frozen=True)
class HeadFit:
    head: SelectorHead  # the weights of the best validation check, in eval mode
    steps: int  # optimizer steps taken
    best_step: int  # the step whose weights were kept
    val_loss: float  # at best_step
    stopped_by_time_budget: bool


def train_head(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    val_x: torch.Tensor,
    val_y: torch.Tensor,
    *,
    hidden_size: int = 64,
    stat_count: int = 0,
    pooled_dropout: float = 0.0,
    standardize_pooled: bool = False,
    seed: int = 0,
    max_steps: int = 600,
    learning_rate: float = 1e-3,
    weight_decay: float = 0.01,
    batch_size: int = 128,
    eval_every: int = 10,
    patience: int = 10,
    deadline: float = math.inf,
    progress: bool = False,
) -> HeadFit:
    """Train a `SelectorHead` on features [n, d] with labels 1/0 [n], the last `stat_count` of them token
    statistics (standardized by their mean and std over `train_x`), the others pooled hidden states (dropped with
    probability `pooled_dropout` in training; standardized too with `standardize_pooled`); see the module
    docstring.

    `deadline` is a `time.monotonic()` value; `progress` shows a bar on stderr when it is a terminal.
    """
    # Seeded initial weights and dropout masks, without touching the caller's RNG.
    with torch.random.fork_rng(devices=[train_x.device.index or 0] if train_x.device.type == "cuda" else []):
        torch.manual_seed(seed)
        head = SelectorHead(train_x.shape[1], hidden_size, stat_count, pooled_dropout).to(train_x.device)
        head.standardize_like(train_x, pooled=standardize_pooled)
        return _fit(head, train_x, train_y.float().to(train_x.device), val_x, val_y.float().to(val_x.device),
                    torch.Generator().manual_seed(seed), max_steps, learning_rate, weight_decay, batch_size,
                    eval_every, patience, deadline, progress)


def _fit(head: SelectorHead, train_x: torch.Tensor, train_y: torch.Tensor, val_x: torch.Tensor,
         val_y: torch.Tensor, generator: torch.Generator, max_steps: int, learning_rate: float,
         weight_decay: float, batch_size: int, eval_every: int, patience: int, deadline: float,
         progress: bool) -> HeadFit:
    optimizer = torch.optim.AdamW(head.parameters(), lr=learning_rate, weight_decay=weight_decay)

    best_loss, best_step, best_state = _loss(head, val_x, val_y), 0, copy.deepcopy(head.state_dict())
    checks_since_best, stopped = 0, False
    bar = tqdm(total=max_steps, desc="training selector", unit="step", file=sys.stderr,
               disable=None if progress else True)
    for step, batch in enumerate(_batches(len(train_x), batch_size, generator), start=1):
        head.train()
        loss = binary_cross_entropy_with_logits(head(train_x[batch]), train_y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        bar.update()
        stopped = step < max_steps and time.monotonic() >= deadline
        last = stopped or step == max_steps
        if step % eval_every == 0 or last:
            val_loss = _loss(head, val_x, val_y)
            bar.set_postfix(val_loss=f"{val_loss:.4f}")
            if val_loss < best_loss:
                best_loss, best_step, checks_since_best = val_loss, step, 0
                best_state = copy.deepcopy(head.state_dict())
            else:
                checks_since_best += 1
        if last or checks_since_best >= patience:
            break
    bar.close()
    head.load_state_dict(best_state)
    return HeadFit(head.eval(), step, best_step, best_loss, stopped)


def _batches(size: int, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Minibatch indices, epoch after epoch, each epoch in a fresh seeded order."""
    while True:
        order = torch.randperm(size, generator=generator)
        for start in range(0, size, batch_size):
            yield order[start : start + batch_size]


@torch.inference_mode()
def _loss(head: SelectorHead, features: torch.Tensor, labels: torch.Tensor) -> float:
    head.eval()
    return binary_cross_entropy_with_logits(head(features), labels).item()


def fit_calibration(logits: torch.Tensor, labels: torch.Tensor) -> Calibration:
    """Platt scaling: the a, b of p = sigmoid(a * logit + b) that best fit `labels` (1/0) on a held-out split."""
    # scikit-learn's default L2 penalty is weak at these sizes but keeps the slope finite on a separable split.
    regression = LogisticRegression().fit(logits.detach().cpu().double().reshape(-1, 1).numpy(),
                                          labels.cpu().numpy().astype(int))
    return Calibration(a=float(regression.coef_[0, 0]), b=float(regression.intercept_[0]))
