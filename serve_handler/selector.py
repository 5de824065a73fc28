"""The selector: a small head on the frozen generator's hidden states that scores how postable a text is.

It runs inside the TorchServe worker (torch + safetensors only) and is trained by `lorecast train selector`.

Features: the text is read by the generator the way training packs lines (`<|endoftext|>` + text), in one batched
forward pass with `output_hidden_states`; the hidden states of the configured `layers` (indices into that tuple:
0 is the embeddings, -1 the last block) are mean-pooled over the text's tokens (padding and the leading
`<|endoftext|>` excluded) and concatenated. No second language model: one forward of the generator per batch.

Head: LayerNorm -> Linear -> GELU -> Linear -> one logit. Calibration: p = sigmoid(a * logit + b), fitted on a
held-out split after training (Platt scaling), so that the served score is a probability.

Contract 3, the selector dir:
    selector.json          {"format": 1, "layers": [...], "feature_size": int, "hidden_size": int,
                            "calibration": {"a": float, "b": float}, "metrics": {...}, "trained_on": {...}}
    selector.safetensors   the head's weights (no pickles)
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
FORMAT = 1


class SelectorHead(nn.Module):
    def __init__(self, feature_size: int, hidden_size: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.LayerNorm(feature_size), nn.Linear(feature_size, hidden_size), nn.GELU(), nn.Linear(hidden_size, 1)
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features).squeeze(-1)


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
) -> torch.Tensor:
    """[len(texts), len(layers) * hidden] float32 features, on the model's device; see the module docstring.

    Texts go through in batches of similar length (sorted by token count): padding costs compute, and on a CPU
    16 sorted texts a batch took 43 ms where 32 unsorted in one batch took 112 ms (demo model, 12-83 tokens).
    """
    context = model.config.n_positions
    rows = [
        [tokenizer.bos_token_id, *tokenizer(text, add_special_tokens=False, split_special_tokens=True)["input_ids"]]
        [:context]
        for text in texts
    ]
    features = torch.empty(len(rows), len(layers) * model.config.n_embd, device=model.device)
    order = sorted(range(len(rows)), key=lambda index: len(rows[index]))
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        features[chunk] = _pooled(model, [rows[index] for index in chunk], tokenizer.pad_token_id, layers)
    return features


def _pooled(model: PreTrainedModel, rows: list[list[int]], pad: int, layers: Sequence[int]) -> torch.Tensor:
    width = max(len(row) for row in rows)
    input_ids = torch.tensor([row + [pad] * (width - len(row)) for row in rows], device=model.device)
    mask = torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in rows], device=model.device)
    # The base model: the hidden states without the language-model head's logits, most of a small model's cost.
    hidden = model.base_model(input_ids=input_ids, attention_mask=mask, output_hidden_states=True).hidden_states
    text_tokens = mask.clone()
    text_tokens[:, 0] = 0  # the leading <|endoftext|> says nothing about the text
    weights = (text_tokens / text_tokens.sum(dim=1, keepdim=True).clamp(min=1)).unsqueeze(-1).float()
    return torch.cat([(hidden[layer].float() * weights).sum(dim=1) for layer in layers], dim=-1)


class Selector:
    def __init__(self, head: SelectorHead, layers: Sequence[int], calibration: Calibration,
                 info: dict[str, Any] | None = None) -> None:
        self.head = head.eval()
        self.layers = list(layers)
        self.calibration = calibration
        self.info = dict(info or {})

    @classmethod
    def load(cls, directory: str | Path, device: torch.device | str = "cpu") -> Selector:
        directory = Path(directory)
        config = json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8"))
        if config.get("format") != FORMAT:
            raise ValueError(f"{directory / CONFIG_FILE}: unsupported selector format {config.get('format')!r}")
        head = SelectorHead(config["feature_size"], config["hidden_size"])
        head.load_state_dict(load_file(directory / WEIGHTS_FILE))
        return cls(head.to(device), config["layers"], Calibration(**config["calibration"]), config)

    def save(self, directory: str | Path, metrics: dict[str, Any], trained_on: dict[str, Any]) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        first = self.head.net[1]
        state = {name: tensor.detach().cpu().contiguous() for name, tensor in self.head.state_dict().items()}
        save_file(state, directory / WEIGHTS_FILE)
        config = {
            "format": FORMAT,
            "layers": self.layers,
            "feature_size": first.in_features,
            "hidden_size": first.out_features,
            "calibration": {"a": self.calibration.a, "b": self.calibration.b},
            "metrics": metrics,
            "trained_on": trained_on,
        }
        (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")  # last

    @torch.inference_mode()
    def logits(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(features.to(next(self.head.parameters()).device))

    def probabilities(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase,
                      texts: Sequence[str]) -> list[float]:
        features = text_features(model, tokenizer, texts, self.layers)
        return self.calibration.probability(self.logits(features)).cpu().tolist()
