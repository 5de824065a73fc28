"""Named GPT-2 sizes for training a generator from scratch (`lorecast train generator --preset`).

A preset fixes the model's shape, the vocabulary size of the byte-level BPE tokenizer trained
for it, and the learning rate and dropout that suit that size. The sizes are picked for where
they run:

    tiny    1.6M parameters; the default 5 epochs over the ~1.2 MB demo corpus take about
            3 minutes on 2 CPU cores (held-out perplexity ~180 with its 4k-token vocabulary)
    small   14M parameters; minutes on a GPU, hours on a CPU
    medium  50M parameters; a GPU run

(GPT-2 "small" from the Hub, 124M parameters, is a finetune with `--base gpt2`, not a preset.)
"""

from __future__ import annotations

from dataclasses import dataclass

from lorecast.errors import LorecastError


@dataclass(frozen=True)
class Preset:
    """A GPT-2 to train from scratch: its shape and the settings that suit it."""

    name: str
    n_layer: int
    n_head: int
    n_embd: int
    context: int  # tokens per training block and the model's n_positions
    vocab_size: int  # target size of the BPE vocabulary (the tokenizer may learn fewer)
    learning_rate: float  # peak rate; smaller models tolerate (and need) larger ones
    dropout: float  # embeddings, attention, residuals; a short run has no overfitting to fight


PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset("tiny", n_layer=3, n_head=4, n_embd=160, context=128, vocab_size=4096,
               learning_rate=3e-3, dropout=0.0),
        Preset("small", n_layer=6, n_head=8, n_embd=384, context=256, vocab_size=8192,
               learning_rate=1e-3, dropout=0.1),
        Preset("medium", n_layer=8, n_head=8, n_embd=640, context=512, vocab_size=16384,
               learning_rate=6e-4, dropout=0.1),
    )
}


def resolve_preset(preset: str | Preset) -> Preset:
    """A preset by name, or a custom one passed through (tests and experiments use their own)."""
    if isinstance(preset, Preset):
        return preset
    try:
        return PRESETS[preset]
    except KeyError:
        raise LorecastError(
            f"unknown preset {preset!r} (choose from {', '.join(PRESETS)})"
        ) from None
