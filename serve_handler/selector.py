"""The selector: a small head on what the frozen generator computes when it reads a text, scoring how postable the
text is.

It runs inside the TorchServe worker (torch + safetensors only) and is trained by `lorecast train selector`.

Features: the text is read by the generator the way training packs lines (`<|endoftext|>` + text), in ONE batched
forward pass of the full model (language-model head included) with `output_hidden_states`; from that pass come
- the hidden states of the configured `layers` (indices into that tuple: 0 is the embeddings, -1 the last block),
  mean-pooled over the text's tokens (padding and the leading `<|endoftext|>` excluded) and concatenated;
- the configured `token_stats`, statistics of how the generator predicts each text token from its prefix (the
  first token from `<|endoftext|>` alone), after the pooled states in the order named:
      mean_logprob, std_logprob, min_logprob,     of the tokens' log-probabilities (nats; std over the text's
      q10_logprob, median_logprob                 tokens, quantiles interpolated)
      top1_share, top10_share, top100_share       share of tokens whose rank (how many logits beat its logit) is
                                                  0, below 10, below 100
      mean_log_rank, std_log_rank, q90_log_rank,  of log(1 + rank)
      max_log_rank
      mean_entropy                                mean entropy (nats) of the predicted next-token distributions
      log_tokens                                  log of the text's token count
  Written text surprises the generator more often than its own samples do: these say so directly, where pooled
  hidden states only imply it. They cost the language-model head's logits and a softmax over them, in that same
  pass (the ranks: one comparison per logit). A selector without token statistics (format 1, or format 2 with
  none) runs the base model alone, without the logits.

Head: the pooled states through a LayerNorm (and, in training, dropout), the token statistics through a fixed
standardization (mean and std over the training split, stored with the weights; a LayerNorm across a handful of
unrelated scalars would mix their scales), concatenated -> Linear -> GELU -> Linear -> one logit. Optionally the
pooled states are standardized the same way before their LayerNorm (`standardize_like(..., pooled=True)`; else
that standardization is the identity): what tells an audience's taste in words apart is a small deviation from a
hidden-state vector every text shares, which a LayerNorm over one text's dimensions keeps small.
Calibration: p = sigmoid(a * logit + b), fitted on a held-out split after training (Platt scaling), so that the
served score is a probability.

Contract 3, the selector dir:
    selector.json          {"format": 2, "layers": [...], "token_stats": [names, in feature order],
                            "feature_size": int (pooled + token stats), "hidden_size": int,
                            "calibration": {"a": float, "b": float}, "metrics": {...}, "trained_on": {...}}
    selector.safetensors   the head's weights (no pickles): pooled_mean, pooled_std, norm.*, stat_mean, stat_std,
                           mlp.0.*, mlp.2.*
Format 1 dirs (no "token_stats": pooled hidden states only; weights net.0.* the LayerNorm, net.1.* and net.3.* the
Linears) still load and serve as they did; `save` always writes format 2.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import PreTrainedModel, PreTrainedTokenizerBase

CONFIG_FILE = "selector.json"
WEIGHTS_FILE = "selector.safetensors"
FORMAT = 2
READABLE_FORMATS = (1, 2)
TOKEN_STATS = ("mean_logprob", "std_logprob", "min_logprob", "q10_logprob", "median_logprob", "top1_share",
               "top10_share", "top100_share", "mean_log_rank", "std_log_rank", "q90_log_rank", "max_log_rank",
               "mean_entropy", "log_tokens")
_FORMAT_1_KEYS = {"net.0.": "norm.", "net.1.": "mlp.0.", "net.3.": "mlp.2."}


class SelectorHead(nn.Module):
    """Features [..., feature_size], the last `stat_count` of them token statistics; see the module docstring."""

    def __init__(self, feature_size: int, hidden_size: int = 64, stat_count: int = 0,
                 pooled_dropout: float = 0.0) -> None:
        super().__init__()
        if not 0 <= stat_count < feature_size:
            raise ValueError(f"{stat_count} token statistics do not fit in {feature_size} features")
        self.pooled_size, self.stat_count = feature_size - stat_count, stat_count
        # In training only: hundreds of pooled dimensions against a few hundred examples overfit, and dropping
        # half of them lifted the demo's held-out ROC-AUC by about 0.02 (see trainer/selector_training.py).
        self.pooled_dropout = nn.Dropout(pooled_dropout)
        self.register_buffer("pooled_mean", torch.zeros(self.pooled_size))
        self.register_buffer("pooled_std", torch.ones(self.pooled_size))
        self.norm = nn.LayerNorm(self.pooled_size)
        self.register_buffer("stat_mean", torch.zeros(stat_count))
        self.register_buffer("stat_std", torch.ones(stat_count))
        self.mlp = nn.Sequential(nn.Linear(feature_size, hidden_size), nn.GELU(), nn.Linear(hidden_size, 1))

    def standardize_like(self, features: torch.Tensor, pooled: bool = False) -> None:
        """Set the fixed standardization of the token statistics, and with `pooled` of the pooled states too, from
        these (training) features."""
        features = features.float()
        if len(features) < 2:  # a spread needs two rows
            return
        mean, std = features.mean(dim=0), features.std(dim=0).clamp(min=1e-4)
        self.stat_mean.copy_(mean[self.pooled_size :])
        self.stat_std.copy_(std[self.pooled_size :])
        if pooled:
            self.pooled_mean.copy_(mean[: self.pooled_size])
            self.pooled_std.copy_(std[: self.pooled_size])

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        pooled = (features[..., : self.pooled_size] - self.pooled_mean) / self.pooled_std
        stats = (features[..., self.pooled_size :] - self.stat_mean) / self.stat_std
        return self.mlp(torch.cat([self.pooled_dropout(self.norm(pooled)), stats], dim=-1)).squeeze(-1)


@dataclass(frozen=True)
class Calibration:
    a: float = 1.0
    b: float = 0.0

    def probability(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.a * logits + self.b)


@torch.inference_mode()
def text_features(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    layers: Sequence[int],
    batch_size: int = 16,
    token_stats: Sequence[str] = (),
) -> torch.Tensor:
    """[len(texts), len(layers) * hidden + len(token_stats)] float32 features, on the model's device; see the module
    docstring.

    Texts go through in batches of similar length (sorted by token count): padding costs compute, and on a CPU
    16 sorted texts a batch took 43 ms where 32 unsorted in one batch took 112 ms (demo model, 12-83 tokens).
    """
    unknown = sorted(set(token_stats) - set(TOKEN_STATS))
    if unknown:
        raise ValueError(f"unknown token statistics {', '.join(unknown)} (known: {', '.join(TOKEN_STATS)})")
    context = model.config.n_positions
    rows = [
        [tokenizer.bos_token_id, *tokenizer(text, add_special_tokens=False, split_special_tokens=True)["input_ids"]]
        [:context]
        for text in texts
    ]
    features = torch.empty(len(rows), len(layers) * model.config.n_embd + len(token_stats), device=model.device)
    order = sorted(range(len(rows)), key=lambda index: len(rows[index]))
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        features[chunk] = _batch_features(model, [rows[index] for index in chunk], tokenizer.pad_token_id, layers,
                                          token_stats)
    return features


def _batch_features(model: PreTrainedModel, rows: list[list[int]], pad: int, layers: Sequence[int],
                    token_stats: Sequence[str]) -> torch.Tensor:
    width = max(len(row) for row in rows)
    input_ids = torch.tensor([row + [pad] * (width - len(row)) for row in rows], device=model.device)
    mask = torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in rows], device=model.device)
    # Without token statistics the base model is enough: the logits are most of a small model's cost.
    forward = model if token_stats else model.base_model
    output = forward(input_ids=input_ids, attention_mask=mask, output_hidden_states=True)
    text_tokens = mask.clone()
    text_tokens[:, 0] = 0  # the leading <|endoftext|> says nothing about the text
    weights = (text_tokens / text_tokens.sum(dim=1, keepdim=True).clamp(min=1)).unsqueeze(-1).float()
    pooled = [(output.hidden_states[layer].float() * weights).sum(dim=1) for layer in layers]
    if not token_stats:
        return torch.cat(pooled, dim=-1)
    stats = _token_stats(output.logits[:, :-1], input_ids[:, 1:], mask[:, 1:].bool())
    return torch.cat([*pooled, torch.stack([stats[name] for name in token_stats], dim=-1)], dim=-1)


def _token_stats(logits: torch.Tensor, targets: torch.Tensor, present: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per row, the TOKEN_STATS over the positions where `present`: logits [b, t, vocab] predict targets [b, t]."""
    target_logits = logits.gather(-1, targets.unsqueeze(-1))
    ranks = (logits > target_logits).sum(dim=-1).float()  # O(b t vocab), like the softmax next to it
    log_ranks = ranks.log1p()
    log_probs = logits.float().log_softmax(dim=-1)
    token_log_probs = log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    entropy = -(log_probs.exp() * log_probs).sum(dim=-1)
    weight = present.float()
    count = weight.sum(dim=1).clamp(min=1)

    def mean(values: torch.Tensor) -> torch.Tensor:
        return (values * weight).sum(dim=1) / count

    def std(values: torch.Tensor) -> torch.Tensor:
        return (mean(values.square()) - mean(values).square()).clamp(min=0).sqrt()

    def quantiles(values: torch.Tensor, *levels: float) -> torch.Tensor:
        among_present = values.masked_fill(~present, float("nan"))
        return among_present.nanquantile(torch.tensor(levels, device=values.device), dim=1).nan_to_num(0.0)

    q10_logprob, median_logprob = quantiles(token_log_probs, 0.1, 0.5)
    return {
        "mean_logprob": mean(token_log_probs),
        "std_logprob": std(token_log_probs),
        "min_logprob": token_log_probs.masked_fill(~present, 0.0).amin(dim=1),
        "q10_logprob": q10_logprob,
        "median_logprob": median_logprob,
        "top1_share": mean((ranks == 0).float()),
        "top10_share": mean((ranks < 10).float()),
        "top100_share": mean((ranks < 100).float()),
        "mean_log_rank": mean(log_ranks),
        "std_log_rank": std(log_ranks),
        "q90_log_rank": quantiles(log_ranks, 0.9)[0],
        "max_log_rank": (log_ranks * weight).amax(dim=1),
        "mean_entropy": mean(entropy),
        "log_tokens": count.log(),
    }


class Selector:
    def __init__(self, head: SelectorHead, layers: Sequence[int], calibration: Calibration,
                 info: dict[str, Any] | None = None, token_stats: Sequence[str] = ()) -> None:
        if len(token_stats) != head.stat_count:
            raise ValueError(f"the head reads {head.stat_count} token statistics, {len(token_stats)} are named")
        self.head = head.eval()
        self.layers = list(layers)
        self.token_stats = list(token_stats)
        self.calibration = calibration
        self.info = dict(info or {})

    @classmethod
    def load(cls, directory: str | Path, device: torch.device | str = "cpu") -> Selector:
        directory = Path(directory)
        config = json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8"))
        if config.get("format") not in READABLE_FORMATS:
            raise ValueError(f"{directory / CONFIG_FILE}: unsupported selector format {config.get('format')!r}")
        token_stats = config.get("token_stats", []) if config["format"] >= 2 else []
        unknown = sorted(set(token_stats) - set(TOKEN_STATS))
        if unknown:
            raise ValueError(f"{directory / CONFIG_FILE}: unknown token statistics {', '.join(unknown)}")
        head = SelectorHead(config["feature_size"], config["hidden_size"], len(token_stats))
        weights = load_file(directory / WEIGHTS_FILE)
        if config["format"] == 1:
            weights = _format_1_weights(weights)
        head.load_state_dict(weights)
        return cls(head.to(device), config["layers"], Calibration(**config["calibration"]), config, token_stats)

    def save(self, directory: str | Path, metrics: dict[str, Any], trained_on: dict[str, Any]) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        first = self.head.mlp[0]
        state = {name: tensor.detach().cpu().contiguous() for name, tensor in self.head.state_dict().items()}
        save_file(state, directory / WEIGHTS_FILE)
        config = {
            "format": FORMAT,
            "layers": self.layers,
            "token_stats": self.token_stats,
            "feature_size": first.in_features,
            "hidden_size": first.out_features,
            "calibration": {"a": self.calibration.a, "b": self.calibration.b},
            "metrics": metrics,
            "trained_on": trained_on,
        }
        (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")  # last

    def features(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase,
                 texts: Sequence[str]) -> torch.Tensor:
        return text_features(model, tokenizer, texts, self.layers, token_stats=self.token_stats)

    @torch.inference_mode()
    def logits(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(features.to(next(self.head.parameters()).device))

    def probabilities(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase,
                      texts: Sequence[str]) -> list[float]:
        return self.calibration.probability(self.logits(self.features(model, tokenizer, texts))).cpu().tolist()


def _format_1_weights(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A format 1 head's weights under today's names: its one LayerNorm ran over pooled states alone, as `norm`
    does, and it read no token statistics."""
    renamed = {}
    for name, tensor in weights.items():
        prefix = next((old for old in _FORMAT_1_KEYS if name.startswith(old)), None)
        if prefix is None:
            raise ValueError(f"unexpected weight {name!r} in a format 1 selector")
        renamed[_FORMAT_1_KEYS[prefix] + name[len(prefix):]] = tensor
    pooled_size = renamed["norm.weight"].shape[0]
    return renamed | {"pooled_mean": torch.zeros(pooled_size), "pooled_std": torch.ones(pooled_size),
                      "stat_mean": torch.zeros(0), "stat_std": torch.ones(0)}
