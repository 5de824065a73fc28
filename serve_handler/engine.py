"""Batched candidate generation: every job of a TorchServe batch, times its candidates, in one `generate` call
(more only when long prompts and long budgets would not fit the context together).

    encode_prompt(tokenizer, prompt, context) -> list[int]       raises RequestError when the prompt leaves no room
    generate_candidates(model, tokenizer, jobs) -> list[list[Candidate]]

A `Job` is one request's encoded prompt and its `GenerationRequest`. Each job gets `n * candidates` rows, in
order: candidate `i` of a job is row `i` of its block, and the answer for the job lists its candidates in that
order. A candidate's text is the prompt and its continuation decoded together (so a word split across them joins
up), cut at the first end-of-text or newline and stripped (a job with `answer_only`: the continuation alone, cut
at the first conversation tag too: the answer to a reply in a conversation-tagged corpus); its score is the mean
log-probability of its generated tokens under the model's raw distribution (the fallback ranking).

Few calls: `RowSampler` (row_sampler.py) applies each row's own warpers and draws each row's tokens with the
row's own random stream, so temperature, top-k/top-p/typical, Mirostat and `max_new_tokens` may all differ between
the rows of one greedy `generate` call. Rows with the same settings share one chain of the stock transformers
warpers (Mirostat included, one fresh instance per group per call), which keeps the sampling math transformers'
own and needs no bucketing by settings. The only buckets are for the context: `generate` moves every row's
position on at every step, so jobs go into one call only while the longest prompt plus the largest budget fits
the context (first fit, in job order; seed-word prompts nearly always fit one call).

Reproducibility: a row's stream is seeded from the request's `rng_seed` and the candidate index, so the same
request with the same `rng_seed` gives the same texts alone or batched with any others (up to float rounding of
the batched forward pass, which can only matter when a draw lands within rounding of a token boundary). Without
`rng_seed` the streams are seeded from the OS; the handler should pick and report an `rng_seed` instead, so the
request can be repeated.

Prompts are `<|endoftext|>` + the text (the way training packs lines), left padded with the attention mask
masking the padding; the model's position ids follow the mask, so padding does not shift them. A row generates
at most `context - its prompt length` tokens, whatever else is in its batch.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers import (
    GenerationConfig,
    LogitsProcessor,
    LogitsProcessorList,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
    TypicalLogitsWarper,
)

from serve_handler.mirostat import MirostatLogitsWarper
from serve_handler.reply import answer_of
from serve_handler.request import GenerationRequest, Mirostat, RequestError
from serve_handler.row_sampler import RowGroup, RowSampler


@dataclass(frozen=True)
class Job:
    """One request to serve: its prompt as `encode_prompt` made it, and its settings. `answer_only` (a reply in a
    conversation-tagged corpus): the text is the continuation alone, up to the first tag (reply.answer_of)."""

    prompt_ids: Sequence[int]
    request: GenerationRequest
    answer_only: bool = False


@dataclass(frozen=True)
class Candidate:
    """One generated text, its mean token log-probability (natural log, <= 0), and whether the model ended the
    line itself (end-of-text or newline) rather than running out of `max_new_tokens` or context."""

    text: str
    mean_logprob: float
    complete: bool


def encode_prompt(tokenizer: PreTrainedTokenizerBase, prompt: str, context: int) -> list[int]:
    """`<|endoftext|>` + `prompt` as token ids; raise RequestError when that leaves the model no room to generate.

    Text in the prompt that spells a special token is encoded as plain text: a user cannot inject one.
    """
    ids = [tokenizer.bos_token_id, *tokenizer(prompt, add_special_tokens=False, split_special_tokens=True)["input_ids"]]
    if len(ids) >= context:
        raise RequestError(f"prompt: {len(ids)} tokens, but the model's context is {context} tokens")
    return ids


def generate_candidates(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, jobs: Sequence[Job]
) -> list[list[Candidate]]:
    """`n * candidates` candidates per job, in job order, one `generate` call per bucket (see the module docstring)."""
    context = model.config.n_positions
    answers: list[list[Candidate]] = [[] for _ in jobs]
    for bucket in _buckets(jobs, context):
        for index, candidates in zip(bucket, _generate_bucket(model, tokenizer, [jobs[i] for i in bucket], context)):
            answers[index] = candidates
    return answers


def _budget(job: Job, context: int) -> int:
    return min(job.request.max_new_tokens, context - len(job.prompt_ids))


def _buckets(jobs: Sequence[Job], context: int) -> list[list[int]]:
    """Job indices, first fit, so that in each bucket the longest prompt plus the largest budget fits the context.

    `generate` advances the position of every row at every step, finished rows too, so a row with a long prompt
    would run past the position embeddings while a short-prompted row still has tokens to go.
    """
    buckets: list[tuple[list[int], int, int]] = []  # (job indices, longest prompt, largest budget)
    for index, job in enumerate(jobs):
        length, budget = len(job.prompt_ids), _budget(job, context)
        for position, (members, longest, largest) in enumerate(buckets):
            if max(longest, length) + max(largest, budget) <= context:
                buckets[position] = ([*members, index], max(longest, length), max(largest, budget))
                break
        else:
            buckets.append(([index], length, budget))
    return [members for members, _, _ in buckets]


def _generate_bucket(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, jobs: list[Job], context: int
) -> list[list[Candidate]]:
    prompts, streams, budgets, settings, answers_only = [], [], [], [], []
    for job in jobs:
        request = job.request
        rows = request.n * request.candidates
        prompts += [list(job.prompt_ids)] * rows
        streams += [_stream(request.rng_seed, index) for index in range(rows)]
        budgets += [_budget(job, context)] * rows
        settings += [_sampling_key(request)] * rows
        answers_only += [job.answer_only] * rows

    pad = tokenizer.pad_token_id
    width = max(len(ids) for ids in prompts)
    input_ids = torch.tensor([[pad] * (width - len(ids)) + ids for ids in prompts], device=model.device)
    attention_mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in prompts], device=model.device)
    sampler = RowSampler(_groups(settings), streams, budgets, width, tokenizer.eos_token_id,
                         newline_token_ids(tokenizer))
    config = GenerationConfig(
        max_new_tokens=max(budgets),
        do_sample=False,  # RowSampler leaves one finite score per row: greedy takes the token it drew
        num_beams=1,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=pad,
        use_cache=True,
    )
    output = model.generate(
        input_ids=input_ids,
        attention_mask=attention_mask,
        generation_config=config,
        logits_processor=LogitsProcessorList([sampler]),
    )

    texts = [_text(tokenizer, ids, row[width:].tolist(), ended, answer_only)
             for ids, row, ended, answer_only in zip(prompts, output.cpu(), sampler.ended(), answers_only)]
    scores = sampler.mean_logprobs()
    answers, start = [], 0
    for job in jobs:
        end = start + job.request.n * job.request.candidates
        rows = zip(texts[start:end], scores[start:end])
        answers.append([Candidate(text, score, complete) for (text, complete), score in rows])
        start = end
    return answers


_SamplingKey = tuple[float, int, float, float, Mirostat | None]


def _sampling_key(request: GenerationRequest) -> _SamplingKey:
    return (request.temperature, request.top_k, request.top_p, request.typical_p, request.mirostat)


def _groups(settings: list[_SamplingKey]) -> list[RowGroup]:
    """Rows grouped by their settings, each group with a fresh warper chain in transformers' own order."""
    rows_by_key: dict[_SamplingKey, list[int]] = {}
    for row, key in enumerate(settings):
        rows_by_key.setdefault(key, []).append(row)
    return [RowGroup(rows, _warpers(*key)) for key, rows in rows_by_key.items()]


def _warpers(
    temperature: float, top_k: int, top_p: float, typical_p: float, mirostat: Mirostat | None
) -> list[LogitsProcessor]:
    warpers: list[LogitsProcessor] = []
    if temperature != 1.0:
        warpers.append(TemperatureLogitsWarper(temperature))
    if top_k > 0:
        warpers.append(TopKLogitsWarper(top_k))
    if top_p < 1.0:
        warpers.append(TopPLogitsWarper(top_p))
    if typical_p < 1.0:
        warpers.append(TypicalLogitsWarper(typical_p))
    if mirostat is not None:  # last: what it truncates is what gets sampled (see mirostat.py)
        warpers.append(MirostatLogitsWarper(mirostat.tau, mirostat.eta))
    return warpers


def _stream(rng_seed: int | None, candidate: int) -> random.Random:
    # A string seed is hashed with SHA-512 by random.Random: the same on every machine and Python run.
    return random.Random() if rng_seed is None else random.Random(f"lorecast:{rng_seed}:{candidate}")


@functools.cache
def newline_token_ids(tokenizer: PreTrainedTokenizerBase) -> tuple[int, ...]:
    """The tokens whose text holds a newline: drawing one ends a row (the text is cut there). Once per tokenizer."""
    pieces = tokenizer.batch_decode([[token] for token in range(len(tokenizer))])
    return tuple(token for token, piece in enumerate(pieces) if "\n" in piece)


def _text(tokenizer: PreTrainedTokenizerBase, prompt_ids: list[int], generated: list[int], ended: bool,
          answer_only: bool = False) -> tuple[str, bool]:
    """The candidate's text (prompt and continuation, up to the line's end; with `answer_only`, the continuation
    alone, up to the first tag too) and whether it is complete: the model ended it (`ended`: end-of-text or a
    newline, RowSampler.ended), or wrote the tag that ends an answer. A row its budget ended is not complete,
    even when an end-of-text was forced into it."""
    eos = tokenizer.eos_token_id
    if eos in generated:
        generated = generated[: generated.index(eos)]
    # skip_special_tokens drops the prompt's leading <|endoftext|>; the generated part holds none.
    text = tokenizer.decode(generated if answer_only else prompt_ids + generated, skip_special_tokens=True)
    tag_ended = False
    if answer_only:
        text, tag_ended = answer_of(text)
    return text.partition("\n")[0].strip(), ended or tag_ended
