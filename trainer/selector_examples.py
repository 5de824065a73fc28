"""The selector's examples: held-out corpus lines (positives) and the generator's own samples (negatives) for the
bootstrap, and posted texts labelled by their engagement, all in the shape of what the handler ranks.

    HandlerShape.from_defaults(context)                    the handler's default request and filter settings
    positives(lines, tokenizer, shape) -> list[str]
    generate_negatives(model, tokenizer, seed_words, count, shape, rng_seed, exclude, deadline, progress)
        -> NegativeDraw(texts, generated, stopped_by_time_budget)
    engagement_examples(labelled, tokenizer, shape, exclude) -> [(text, 1 | 0), ...]

The selector only ever scores candidates that survived the handler's sentence-end cut and length bounds, so both
classes are brought to that shape; otherwise it would learn "longer than a candidate can be" instead of "written
by a person":
- negatives are generated as the handler serves a request without seed or prompt and with default settings
  (`generate_candidates`, a random familiar seed word drawn with a seeded stream, in the form `seed_words` gives
  it: the prompt is <|endoftext|> + form, as the handler's, when `seed_words` was read from words.txt with
  `SeedWords.from_file`), one candidate per seed word, then cut at their last sentence end when they ran out of
  tokens, and kept within the length bounds;
- a positive longer (in tokens) than a candidate can be, a one-token seed word plus the default
  `max_new_tokens`, is cut the same way at that many tokens; then the same length bounds.
Both are deduplicated; a negative that copies a training line (the novelty filter would reject it) or a positive
(it would carry both labels) is dropped.

Posted texts were served candidates, so most have that shape already; they go through the positives' cut all the
same, because a post made with other settings (a larger `max_new_tokens`, a prompt, other length bounds in the
`.mar`) may be longer, and then length alone would tell the engagement examples from the bootstrap ones. A text
labelled both ways (posted to two platforms, liked on one) or already a bootstrap example is dropped.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass

import torch
from tqdm import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from serve_handler.engine import Job, encode_prompt, generate_candidates
from serve_handler.filters.sentence_end import cut_at_sentence_end
from serve_handler.request import request_from_fields
from serve_handler.seeds import SeedWords
from serve_handler.settings import HandlerSettings

GENERATION_BATCH = 64  # candidates (one per seed word) per `generate` call
MAX_DRAWS_PER_NEGATIVE = 4  # give up after this many candidates per negative wanted (most are kept)
_RNG_SEED_BITS = 63  # the request schema's bound


@dataclass(frozen=True)
class HandlerShape:
    """What a served candidate looks like: at most `max_tokens` tokens, `min_chars` to `max_chars` long."""

    max_tokens: int
    min_chars: int
    max_chars: int

    @classmethod
    def from_defaults(cls, context: int) -> HandlerShape:
        request, settings = request_from_fields({}), HandlerSettings()
        # A one-token seed word after <|endoftext|> leaves `context - 2` tokens at most.
        return cls(1 + min(request.max_new_tokens, context - 2), settings.min_chars, settings.max_chars)

    def fits(self, text: str) -> bool:
        return self.min_chars <= len(text) <= self.max_chars


@dataclass(frozen=True)
class NegativeDraw:
    texts: list[str]
    generated: int  # candidates generated to get them
    stopped_by_time_budget: bool


def shaped(line: str, tokenizer: PreTrainedTokenizerBase, shape: HandlerShape) -> str | None:
    """`line` as a served candidate: cut at a sentence end when longer than one can be; None when it cannot fit."""
    ids = tokenizer(line, add_special_tokens=False, split_special_tokens=True)["input_ids"]
    complete = len(ids) <= shape.max_tokens
    text = cut_at_sentence_end(line if complete else tokenizer.decode(ids[: shape.max_tokens]).strip(), complete)
    return text if text is not None and shape.fits(text) else None


def positives(lines: Iterable[str], tokenizer: PreTrainedTokenizerBase, shape: HandlerShape) -> list[str]:
    """`lines` in the shape of served candidates, deduplicated, in order."""
    kept = {text: None for text in (shaped(line, tokenizer, shape) for line in lines) if text is not None}
    return list(kept)


def engagement_examples(
    labelled: Iterable[tuple[str, int]],
    tokenizer: PreTrainedTokenizerBase,
    shape: HandlerShape,
    exclude: Collection[str],
) -> list[tuple[str, int]]:
    """The labelled posted texts in the shape of served candidates, deduplicated, in order; a text in `exclude` or
    with both labels is dropped."""
    labels: dict[str, set[int]] = {}
    for line, label in labelled:
        text = shaped(line, tokenizer, shape)
        if text is not None and text not in exclude:
            labels.setdefault(text, set()).add(label)
    return [(text, found.pop()) for text, found in labels.items() if len(found) == 1]


def generate_negatives(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    seed_words: SeedWords,
    count: int,
    shape: HandlerShape,
    rng_seed: int,
    exclude: Collection[str],
    deadline: float,
    progress: bool = False,
) -> NegativeDraw:
    """Up to `count` distinct generated texts not in `exclude`; see the module docstring.

    Stops early after `MAX_DRAWS_PER_NEGATIVE * count` candidates, or after the batch that ends past `deadline`
    (a `time.monotonic()` value; at least one batch is always generated). The same arguments give the same texts
    on the same machine.
    """
    rng = random.Random(f"lorecast-negatives:{rng_seed}")
    kept: dict[str, None] = {}
    generated, stopped = 0, False
    context = model.config.n_positions
    bar = tqdm(total=count, desc="generating negatives", unit="text", file=sys.stderr,
               disable=None if progress else True)
    while len(kept) < count and generated < MAX_DRAWS_PER_NEGATIVE * count and not stopped:
        jobs = [_job(tokenizer, seed_words.draw(rng), rng.getrandbits(_RNG_SEED_BITS), context)
                for _ in range(GENERATION_BATCH)]
        with torch.inference_mode():
            answers = generate_candidates(model, tokenizer, jobs)
        candidates = [candidate for per_job in answers for candidate in per_job]
        generated += len(candidates)
        before = len(kept)
        for candidate in candidates:
            text = cut_at_sentence_end(candidate.text, candidate.complete)
            if text is not None and shape.fits(text) and text not in exclude and len(kept) < count:
                kept[text] = None
        bar.update(len(kept) - before)
        stopped = len(kept) < count and time.monotonic() >= deadline
    bar.close()
    return NegativeDraw(list(kept), generated, stopped)


def _job(tokenizer: PreTrainedTokenizerBase, seed_word: str, rng_seed: int, context: int) -> Job:
    # One candidate per seed word, for variety; request_from_fields resolves every other field to the handler's
    # defaults, from the request schema itself. `seed_word` is a drawn form: the handler's prompt for it is the
    # word as it is (service.py), so it goes in unchanged.
    request = request_from_fields({"seed": seed_word, "rng_seed": rng_seed, "candidates": 1})
    return Job(encode_prompt(tokenizer, seed_word, context), request)
