"""`lorecast train sample` on a model trained by the session fixture."""

from __future__ import annotations

import pytest

from lorecast.errors import LorecastError
from trainer.sampling import sample_texts

pytestmark = pytest.mark.slow


def lines(result) -> list[str]:
    assert result.exit_code == 0, result.output
    return result.stdout.split("\n")[:-1]


def test_prints_n_samples_one_per_line(trained, invoke):
    _, model_dir, _ = trained
    assert len(lines(invoke("sample", "--model", model_dir, "-n", 7, "--max-new-tokens", 12))) == 7


def test_rng_seed_makes_samples_reproducible(trained, invoke):
    _, model_dir, _ = trained
    args = ("sample", "--model", model_dir, "-n", 6, "--max-new-tokens", 16)
    first = lines(invoke(*args, "--rng-seed", 7))
    assert lines(invoke(*args, "--rng-seed", 7)) == first
    assert lines(invoke(*args, "--rng-seed", 8)) != first


def test_seed_word_starts_every_sample(trained, invoke):
    _, model_dir, _ = trained
    samples = lines(invoke("sample", "--model", model_dir, "-n", 5, "--seed-word", "wizard"))
    assert len(samples) == 5
    assert all(sample.startswith("wizard") for sample in samples)


def test_corpus_words_seed_the_samples(trained, invoke):
    corpus_dir, model_dir, _ = trained
    words = [line.split("\t")[0] for line in (corpus_dir / "words.txt").read_text().splitlines()]
    samples = lines(invoke("sample", "--model", model_dir, "-n", 8, "--corpus", corpus_dir))
    assert len(samples) == 8
    assert all(any(sample.startswith(word) for word in words) for sample in samples)


def test_samples_are_single_lines_ending_before_end_of_text(trained):
    _, model_dir, _ = trained
    samples = sample_texts(model_dir, 10, max_new_tokens=40, rng_seed=3)
    assert len(samples) == 10
    assert not any("\n" in sample or "<|endoftext|>" in sample for sample in samples)
    # The model learnt the corpus lines: most samples end at end-of-text with a full stop.
    assert sum(sample.endswith(".") for sample in samples) >= 5


def test_refuses_a_dir_that_is_not_a_model_dir(tmp_path, invoke):
    result = invoke("sample", "--model", tmp_path)
    assert isinstance(result.exception, LorecastError)
    assert "not a model dir" in str(result.exception) and str(tmp_path) in str(result.exception)



def test_samples_stop_at_the_model_context(trained):
    _, model_dir, _ = trained
    # The test model's context is 32 tokens; asking for more must not run past it.
    samples = sample_texts(model_dir, 3, max_new_tokens=500, temperature=2.0, rng_seed=1)
    assert len(samples) == 3


def test_seed_word_longer_than_the_context(trained):
    _, model_dir, _ = trained
    with pytest.raises(LorecastError, match="seed word too long"):
        sample_texts(model_dir, 1, seed_word="kernel " * 40)
