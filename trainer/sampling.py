"""Sample texts from a model dir: a quick local look at a generator (`lorecast train sample`).

Each sample is prompted with `<|endoftext|>` + an optional seed word, so it starts like a corpus
line, and ends at the first `<|endoftext|>` or newline. All samples come from one batched
`generate` call (left padding, so every prompt ends where generation begins).
"""

from __future__ import annotations

import random
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from lorecast.errors import LorecastError
from trainer.model_dir import read_metadata


def sample_texts(
    model_dir: str | Path,
    n: int,
    *,
    seed_word: str | None = None,
    seed_words: list[str] | None = None,
    max_new_tokens: int = 80,
    temperature: float = 1.0,
    top_k: int = 50,
    top_p: float = 0.95,
    rng_seed: int | None = None,
) -> list[str]:
    """`n` samples; each starts with `seed_word`, or a word drawn uniformly from `seed_words`,
    or nothing. The same `rng_seed` on the same machine gives the same samples."""
    read_metadata(model_dir)  # refuses a dir that is not a complete model dir
    rng = random.Random(rng_seed)
    if seed_word is not None:
        seeds = [seed_word] * n
    elif seed_words:
        seeds = [rng.choice(seed_words) for _ in range(n)]
    else:
        seeds = [""] * n

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device).eval()

    prompts = tokenizer(
        [tokenizer.bos_token + seed for seed in seeds],
        return_tensors="pt",
        padding=True,
        add_special_tokens=False,
    ).to(device)
    # Positions past the model's context have no embedding: a sample also ends there.
    context = model.config.n_positions
    room = context - prompts["input_ids"].shape[1]
    if room < 1:
        raise LorecastError(f"seed word too long for the model's context of {context} tokens")
    if rng_seed is not None:
        torch.manual_seed(rng_seed)  # generate draws from torch's global generator
    with torch.no_grad():
        output = model.generate(
            **prompts,
            do_sample=True,
            max_new_tokens=min(max_new_tokens, room),
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    # Prompt and continuation are decoded together so a word split across them joins up;
    # the special tokens dropped are the prompt's start, the left padding and the end.
    texts = tokenizer.batch_decode(output, skip_special_tokens=True)
    return [text.split("\n", 1)[0].strip() for text in texts]
