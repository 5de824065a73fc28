"""Batched candidate generation: counts, per-request reproducibility inside a batch, buckets, context, scores."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

from serve_handler.engine import Job, encode_prompt, generate_candidates
from serve_handler.request import GenerationRequest, Mirostat, RequestError

EOS = "<|endoftext|>"
CONTEXT = 48
SENTENCES = [
    "the dragon sleeps under the old mountain",
    "a knight rides north to find the dragon",
    "the river sings of old kings and lost crowns",
    "winter comes early to the northern keep",
    "she reads the map by candle light",
] * 4


@pytest.fixture(scope="module")
def tokenizer() -> PreTrainedTokenizerFast:
    """A byte-level BPE over the sentences' own letters plus newline ("Ċ" byte-level), so every token is ASCII
    and decoding fewer tokens gives a prefix of the text."""
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=120, special_tokens=[EOS], initial_alphabet=["Ċ"])
    bpe.train_from_iterator(SENTENCES, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token=EOS, eos_token=EOS, pad_token=EOS)


@pytest.fixture(scope="module")
def model(tokenizer) -> GPT2LMHeadModel:
    torch.manual_seed(0)
    eos = tokenizer.eos_token_id
    config = GPT2Config(
        vocab_size=len(tokenizer), n_positions=CONTEXT, n_embd=32, n_layer=2, n_head=2,
        bos_token_id=eos, eos_token_id=eos, pad_token_id=eos,
    )  # fmt: skip
    return GPT2LMHeadModel(config).eval()


@pytest.fixture
def generate_calls(model, monkeypatch) -> list[dict]:
    """The keyword arguments of every `model.generate` call, which still runs."""
    calls: list[dict] = []
    real = model.generate

    def counting(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(model, "generate", counting)
    return calls


def _request(**changes) -> GenerationRequest:
    defaults = GenerationRequest(
        n=2, seed=None, prompt=None, reply_to=None, max_new_tokens=20, temperature=1.0, top_k=0, top_p=0.95,
        typical_p=1.0,
        mirostat=None, candidates=3, min_novelty=0.25, explore=0.0, rng_seed=7,
    )  # fmt: skip
    return dataclasses.replace(defaults, **changes)


def _job(tokenizer, prompt: str, **changes) -> Job:
    return Job(encode_prompt(tokenizer, prompt, CONTEXT), _request(**changes))


def _texts(answer) -> list[str]:
    return [candidate.text for candidate in answer]


def test_each_job_gets_n_times_candidates_texts_starting_with_its_prompt(model, tokenizer):
    jobs = [_job(tokenizer, "dragon", n=2, candidates=3), _job(tokenizer, "winter comes", n=1, candidates=5)]
    answers = generate_candidates(model, tokenizer, jobs)
    assert [len(answer) for answer in answers] == [6, 5]
    assert all(text.startswith("dragon") for text in _texts(answers[0]))
    assert all(text.startswith("winter comes") for text in _texts(answers[1]))
    assert all("\n" not in text and EOS not in text for answer in answers for text in _texts(answer))


def test_same_rng_seed_gives_the_same_texts_alone_and_in_a_batch(model, tokenizer):
    job = _job(tokenizer, "dragon", rng_seed=42, max_new_tokens=12, temperature=0.8, top_k=50)
    alone = generate_candidates(model, tokenizer, [job])[0]
    others = [
        _job(tokenizer, "the river sings of old kings", rng_seed=1, max_new_tokens=30),
        _job(tokenizer, "a", rng_seed=None, typical_p=0.9, candidates=1),
        _job(tokenizer, "she", rng_seed=3, mirostat=Mirostat(3.0, 0.1), top_p=1.0),
    ]
    batched = generate_candidates(model, tokenizer, [others[0], job, *others[1:]])[1]
    assert _texts(batched) == _texts(alone)
    assert [c.mean_logprob for c in batched] == pytest.approx([c.mean_logprob for c in alone], abs=1e-4)


def test_candidates_differ_from_each_other_and_across_rng_seeds(model, tokenizer):
    first, second = generate_candidates(
        model, tokenizer, [_job(tokenizer, "dragon", rng_seed=1), _job(tokenizer, "dragon", rng_seed=2)]
    )
    assert len(set(_texts(first))) == len(first)
    assert set(_texts(first)).isdisjoint(_texts(second))


def test_without_rng_seed_each_call_draws_afresh(model, tokenizer):
    job = _job(tokenizer, "dragon", rng_seed=None)
    assert _texts(generate_candidates(model, tokenizer, [job])[0]) != _texts(
        generate_candidates(model, tokenizer, [job])[0]
    )


def test_mixed_settings_share_one_generate_call(model, tokenizer, generate_calls):
    jobs = [
        _job(tokenizer, "dragon", max_new_tokens=5),
        _job(tokenizer, "winter", max_new_tokens=25, temperature=1.5, top_k=20),
        _job(tokenizer, "river", mirostat=Mirostat(2.0, 0.2), top_p=1.0),
        _job(tokenizer, "knight", mirostat=Mirostat(5.0, 0.1), top_p=1.0, rng_seed=None),
    ]
    answers = generate_candidates(model, tokenizer, jobs)
    assert len(generate_calls) == 1
    assert generate_calls[0]["generation_config"].max_new_tokens == 25
    assert [len(answer) for answer in answers] == [6, 6, 6, 6]
    # The 5-token job stopped at its own budget although the call ran on: its texts are the first tokens of what
    # the same job with a 25-token budget writes.
    longer = generate_candidates(model, tokenizer, [_job(tokenizer, "dragon", max_new_tokens=25)])[0]
    assert all(long.startswith(short) for short, long in zip(_texts(answers[0]), _texts(longer)))
    assert sum(map(len, _texts(answers[0]))) < sum(map(len, _texts(longer)))


def test_mirostat_rows_follow_their_own_seed_in_a_mixed_batch(model, tokenizer):
    miro = _job(tokenizer, "river", mirostat=Mirostat(2.0, 0.2), top_p=1.0, rng_seed=5)
    alone = generate_candidates(model, tokenizer, [miro])[0]
    batched = generate_candidates(model, tokenizer, [_job(tokenizer, "dragon", rng_seed=9), miro])[1]
    assert _texts(batched) == _texts(alone)


def test_a_long_prompt_is_cut_to_the_context_and_bucketed_apart_from_long_budgets(model, tokenizer, generate_calls):
    long_prompt = " ".join(SENTENCES[:4])
    long_ids = encode_prompt(tokenizer, long_prompt, CONTEXT)
    assert CONTEXT // 2 < len(long_ids) < CONTEXT
    long_job = Job(long_ids, _request(max_new_tokens=256, n=1, candidates=2))
    short_job = _job(tokenizer, "a", max_new_tokens=40, n=1, candidates=2)
    answers = generate_candidates(model, tokenizer, [long_job, short_job])  # running past the context would raise
    assert [call["generation_config"].max_new_tokens for call in generate_calls] == [CONTEXT - len(long_ids), 40]
    assert [len(answer) for answer in answers] == [2, 2]


def test_a_prompt_that_fills_the_context_is_a_request_error(tokenizer):
    with pytest.raises(RequestError, match="context is 48 tokens"):
        encode_prompt(tokenizer, " ".join(SENTENCES), CONTEXT)


def test_a_special_token_spelled_in_the_prompt_stays_plain_text(tokenizer):
    ids = encode_prompt(tokenizer, f"x{EOS}y", CONTEXT)
    assert ids[0] == tokenizer.eos_token_id
    assert tokenizer.eos_token_id not in ids[1:]


def test_scores_are_finite_log_probabilities(model, tokenizer):
    answers = generate_candidates(model, tokenizer, [_job(tokenizer, "dragon"), _job(tokenizer, "she", top_k=3)])
    scores = [candidate.mean_logprob for answer in answers for candidate in answer]
    assert all(math.isfinite(score) and score <= 0 for score in scores)
    # A near-uniform random model: the mean log-probability sits near -log(vocab), not at 0.
    assert max(scores) < -math.log(len(tokenizer)) / 2


def test_no_jobs_no_generate_call(model, tokenizer, generate_calls):
    assert generate_candidates(model, tokenizer, []) == []
    assert generate_calls == []


def test_complete_means_the_model_ended_the_line_alone_or_in_a_mixed_batch(model, tokenizer):
    # A short budget that runs out: alone, generate stops at max_new_tokens; batched with a longer budget, the
    # sampler forces an end-of-text into the row. Neither is the model ending the line: complete stays False.
    job = _job(tokenizer, "dragon", rng_seed=9, max_new_tokens=3, candidates=4, n=2)
    alone = generate_candidates(model, tokenizer, [job])[0]
    longer = _job(tokenizer, "the river", rng_seed=2, max_new_tokens=40, candidates=4, n=2)
    batched = generate_candidates(model, tokenizer, [longer, job])[1]
    assert [(c.text, c.complete) for c in batched] == [(c.text, c.complete) for c in alone]
    assert [c.mean_logprob for c in batched] == pytest.approx([c.mean_logprob for c in alone], abs=1e-4)
    assert not all(c.complete for c in batched)  # before: every row the budget ended counted as complete here


def test_a_newline_ends_a_row_and_makes_it_complete(model, tokenizer):
    from serve_handler.engine import newline_token_ids

    newline_ids = newline_token_ids(tokenizer)
    assert newline_ids and all("\n" in tokenizer.decode([token]) for token in newline_ids)
    jobs = [_job(tokenizer, "the", rng_seed=seed, max_new_tokens=60, candidates=8) for seed in range(6)]
    candidates = [c for answer in generate_candidates(model, tokenizer, jobs) for c in answer]
    # The random test model draws a newline now and then: those rows ended themselves, however short.
    assert all("\n" not in c.text for c in candidates)
    assert any(c.complete for c in candidates) and not all(c.complete for c in candidates)
