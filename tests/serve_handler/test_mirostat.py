"""Mirostat v2: the update math, the truncation rule, per-row state, and that the surprise tracks tau."""

from __future__ import annotations

import math

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel, LogitsProcessorList, TemperatureLogitsWarper

from serve_handler.mirostat import MirostatLogitsWarper


def _bits(probability: float) -> float:
    return -math.log2(probability)


def _logits(*probabilities: float) -> torch.Tensor:
    return torch.tensor([probabilities]).log()


def _zipf_logits(generator: torch.Generator, batch: int, vocab: int = 2000) -> torch.Tensor:
    """A stand-in language model: Zipf-shaped next-token logits over a fresh random ordering of the vocabulary."""
    ranks = torch.rand((batch, vocab), generator=generator).argsort(dim=1) + 1
    return -1.1 * ranks.float().log()


def _sample(scores: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return torch.multinomial(torch.softmax(scores, dim=-1), 1, generator=generator).squeeze(1)


def _run(warper: MirostatLogitsWarper, steps: int, batch: int, seed: int) -> torch.Tensor:
    """Sample `steps` tokens per row; return each sampled token's surprise (bits) under what was sampled from."""
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.zeros((batch, 4), dtype=torch.long)
    surprises = []
    for _ in range(steps):
        processed = warper(input_ids, _zipf_logits(generator, batch))
        token = _sample(processed, generator)
        logprob = torch.log_softmax(processed, dim=-1).gather(1, token[:, None]).squeeze(1)
        surprises.append(-logprob / math.log(2))
        input_ids = torch.cat([input_ids, token[:, None]], dim=1)
    return torch.stack(surprises, dim=1)


@pytest.mark.parametrize("bad", [0, -1.0, math.nan, math.inf, True])
@pytest.mark.parametrize("name", ["tau", "eta"])
def test_rejects_tau_and_eta_that_are_not_positive_numbers(name: str, bad: float) -> None:
    settings = {"tau": 3.0, "eta": 0.1, name: bad}
    with pytest.raises(ValueError, match=name):
        MirostatLogitsWarper(**settings)


def test_first_step_drops_tokens_more_surprising_than_two_tau() -> None:
    # Surprises 1, 2, 3, 3 bits; mu starts at 2 * 1.25 = 2.5, so the two 3-bit tokens go.
    scores = _logits(0.5, 0.25, 0.125, 0.125)
    processed = MirostatLogitsWarper(tau=1.25, eta=0.5)(torch.zeros((1, 3), dtype=torch.long), scores)

    assert torch.isinf(processed[0, 2:]).all()
    assert torch.equal(processed[0, :2], scores[0, :2])


def test_mu_moves_by_eta_times_the_error_of_the_sampled_tokens_surprise_after_truncation() -> None:
    warper = MirostatLogitsWarper(tau=1.25, eta=0.5)
    warper(torch.zeros((1, 3), dtype=torch.long), _logits(0.5, 0.25, 0.125, 0.125))
    # Token 1 was sampled; after truncation to {0, 1} its probability is 0.25 / 0.75 = 1/3.
    expected_mu = 2.5 - 0.5 * (_bits(1 / 3) - 1.25)
    # Token 1 of the next step has 2.4 bits of surprise: kept under the old mu (2.5), dropped under the new one.
    next_scores = _logits(0.5, 2**-2.4, 0.5 - 2**-2.4)
    processed = warper(torch.tensor([[0, 0, 0, 1]]), next_scores)

    assert warper.mu.item() == pytest.approx(expected_mu)
    assert torch.isinf(processed[0, 1])
    assert torch.isfinite(processed[0, [0, 2]]).all()


def test_a_row_whose_last_token_was_masked_keeps_its_mu() -> None:
    # generate pads finished rows with the pad token, which may be one this processor had dropped.
    warper = MirostatLogitsWarper(tau=1.25, eta=0.5)
    warper(torch.zeros((2, 3), dtype=torch.long), _logits(0.5, 0.25, 0.125, 0.125).repeat(2, 1))
    warper(torch.tensor([[0, 0, 0, 1], [0, 0, 0, 3]]), _logits(0.5, 0.25, 0.125, 0.125).repeat(2, 1))

    assert warper.mu[0].item() == pytest.approx(2.5 - 0.5 * (_bits(1 / 3) - 1.25))
    assert warper.mu[1].item() == pytest.approx(2.5)


def test_the_most_likely_token_is_never_dropped() -> None:
    generator = torch.Generator().manual_seed(1)
    warper = MirostatLogitsWarper(tau=0.01, eta=1.0)  # mu far below any token's surprise
    input_ids = torch.zeros((4, 2), dtype=torch.long)
    for _ in range(50):
        scores = torch.randn((4, 300), generator=generator)
        processed = warper(input_ids, scores)
        kept = torch.isfinite(processed)
        assert kept.sum(dim=1).tolist() == [1, 1, 1, 1]
        assert kept.gather(1, scores.argmax(dim=1, keepdim=True)).all()
        input_ids = torch.cat([input_ids, _sample(processed, generator)[:, None]], dim=1)
    # Uniform scores: every token is equally surprising, and one of them still survives.
    flat = MirostatLogitsWarper(tau=0.01)(input_ids[:1, :2], torch.zeros((1, 300)))
    assert torch.isfinite(flat).sum().item() == 1


@pytest.mark.parametrize("tau", [3.0, 5.0])
def test_observed_surprise_tracks_tau(tau: float) -> None:
    surprises = _run(MirostatLogitsWarper(tau=tau, eta=0.1), steps=400, batch=4, seed=7)

    assert abs(surprises.mean().item() - tau) < 0.5
    for row in surprises:  # every row, not just the batch average, is steered
        assert abs(row.mean().item() - tau) < 0.5


def test_a_higher_tau_gives_more_surprising_tokens() -> None:
    low = _run(MirostatLogitsWarper(tau=3.0), steps=300, batch=2, seed=3).mean().item()
    high = _run(MirostatLogitsWarper(tau=5.0), steps=300, batch=2, seed=3).mean().item()

    assert high > low + 1.0


def test_rows_evolve_independently() -> None:
    """A batch gives each row the same mu trajectory as running that row on its own."""
    generator = torch.Generator().manual_seed(11)
    # Rows of very different sharpness, so their mu values must drift apart.
    sharpness = torch.tensor([[0.5], [1.0], [3.0]])
    steps = [torch.randn((3, 500), generator=generator) * sharpness for _ in range(30)]
    tokens = [torch.randint(0, 500, (3,), generator=generator) for _ in range(30)]

    batched = MirostatLogitsWarper(tau=4.0, eta=0.3)
    alone = [MirostatLogitsWarper(tau=4.0, eta=0.3) for _ in range(3)]
    input_ids = torch.zeros((3, 1), dtype=torch.long)
    for scores, token in zip(steps, tokens):
        processed = batched(input_ids, scores)
        for row, warper in enumerate(alone):
            assert torch.allclose(warper(input_ids[row : row + 1], scores[row : row + 1]), processed[row : row + 1])
        # Feed back the random token where it survived truncation, else the row's top token.
        survived = torch.isfinite(processed.gather(1, token[:, None])).squeeze(1)
        token = torch.where(survived, token, processed.argmax(dim=1))
        input_ids = torch.cat([input_ids, token[:, None]], dim=1)

    batched(input_ids, steps[0])
    for row, warper in enumerate(alone):
        warper(input_ids[row : row + 1], steps[0][row : row + 1])
        assert warper.mu.item() == pytest.approx(batched.mu[row].item())
    assert len({round(value, 4) for value in batched.mu.tolist()}) == 3


def test_state_resets_when_a_call_does_not_continue_the_previous_one() -> None:
    warper = MirostatLogitsWarper(tau=2.0, eta=1.0)
    scores = _logits(0.5, 0.25, 0.125, 0.125).repeat(2, 1)
    warper(torch.zeros((2, 3), dtype=torch.long), scores)
    warper(torch.tensor([[0, 0, 0, 0], [0, 0, 0, 3]]), scores)
    assert warper.mu.tolist() != [4.0, 4.0]

    warper(torch.zeros((2, 9), dtype=torch.long), scores)  # new prompt length
    assert warper.mu.tolist() == [4.0, 4.0]
    warper(torch.zeros((3, 10), dtype=torch.long), scores.repeat(2, 1)[:3])  # new batch size
    assert warper.mu.tolist() == [4.0, 4.0, 4.0]


def test_inside_generate_with_temperature_and_a_left_padded_batch() -> None:
    torch.manual_seed(0)
    vocab, pad = 256, 0
    end = vocab - 1
    config = GPT2Config(
        vocab_size=vocab, n_positions=256, n_embd=32, n_layer=1, n_head=2, bos_token_id=end, eos_token_id=end
    )
    model = GPT2LMHeadModel(config).eval()
    prompts = [[5, 6, 7, 8], [9, 10], [11]]
    width = max(map(len, prompts))
    input_ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts])
    attention_mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    tau, new_tokens = 5.0, 150
    mirostat = MirostatLogitsWarper(tau=tau, eta=0.1)

    out = model.generate(
        input_ids,
        attention_mask=attention_mask,
        do_sample=True,
        top_k=0,
        max_new_tokens=new_tokens,
        min_new_tokens=new_tokens,
        pad_token_id=pad,
        logits_processor=LogitsProcessorList([TemperatureLogitsWarper(0.9), mirostat]),
        output_scores=True,
        return_dict_in_generate=True,
    )

    sampled = out.sequences[:, width:]
    assert sampled.shape == (3, new_tokens)
    assert mirostat.mu.shape == (3,)
    # `scores` are what generate sampled from after every processor ran; their surprise is the one steered.
    logprobs = torch.log_softmax(torch.stack(out.scores, dim=1).float(), dim=-1)
    surprise = -logprobs.gather(2, sampled[..., None]).squeeze(-1) / math.log(2)
    assert abs(surprise.mean().item() - tau) < 0.5
    assert torch.isinf(torch.stack(out.scores, dim=1)).any()  # it did truncate

    again = model.generate(
        input_ids[:2],
        attention_mask=attention_mask[:2],
        do_sample=True,
        top_k=0,
        max_new_tokens=3,
        pad_token_id=pad,
        logits_processor=LogitsProcessorList([mirostat]),
    )
    assert again.shape == (2, width + 3)
    assert mirostat.mu.shape == (2,)
