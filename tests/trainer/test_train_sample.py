"""`lorecast train sample` on a model trained by the session fixture: the handler's own service, built from the
model dir and the corpus dir (tests/serving/test_sample_matches_served.py checks it against a real TorchServe)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from jsonschema import Draft202012Validator

import serve_handler
from lorecast.errors import LorecastError
from serve_handler.selector import Calibration, Selector, SelectorHead
from trainer.sampling import request_bodies

pytestmark = pytest.mark.slow

RESPONSE_SCHEMA = json.loads((Path(serve_handler.__file__).parent / "response_schema.json").read_text())


def lines(result) -> list[str]:
    assert result.exit_code == 0, result.output
    return result.stdout.split("\n")[:-1]


def responses(result) -> list[dict]:
    return [json.loads(line) for line in lines(result)]


def test_prints_n_samples_one_per_line(trained, invoke):
    _, model_dir, _ = trained
    # Without filters nothing is rejected, so every text asked for comes back.
    assert len(lines(invoke("sample", "--model", model_dir, "-n", 7, "--max-new-tokens", 12, "--raw"))) == 7
    # With them, what was rejected is accounted for: printed + missing = asked for.
    result = invoke("sample", "--model", model_dir, "-n", 7, "--min-novelty", 0, "--json")
    (answer,) = responses(result)
    assert len(answer["texts"]) + answer["missing"] == 7 and len(answer["texts"]) >= 4
    printed = lines(invoke("sample", "--model", model_dir, "-n", 7, "--min-novelty", 0,
                           "--rng-seed", answer["rng_seed"]))
    assert printed == [text["text"] for text in answer["texts"]]
    assert f"rng_seed {answer['rng_seed']}" in result.stderr


def test_rng_seed_makes_samples_reproducible(trained, invoke):
    _, model_dir, _ = trained
    args = ("sample", "--model", model_dir, "-n", 6, "--max-new-tokens", 16, "--min-novelty", 0)
    first = lines(invoke(*args, "--rng-seed", 7))
    assert first
    assert lines(invoke(*args, "--rng-seed", 7)) == first
    assert lines(invoke(*args, "--rng-seed", 8)) != first


def test_seed_word_starts_every_sample(trained, invoke):
    _, model_dir, _ = trained
    samples = lines(invoke("sample", "--model", model_dir, "-n", 5, "--seed-word", "wizard", "--min-novelty", 0,
                           "--rng-seed", 1))
    assert len(samples) == 5
    assert all(sample.startswith("wizard") for sample in samples)


def test_an_unknown_seed_word_maps_to_the_closest_known_one(trained, invoke):
    _, model_dir, _ = trained
    result = invoke("sample", "--model", model_dir, "-n", 2, "--seed", "Kernal", "--min-novelty", 0, "--json")
    (answer,) = responses(result)
    assert (answer["seed"], answer["seed_requested"]) == ("kernel", "Kernal")
    assert all(text["text"].startswith("kernel") for text in answer["texts"])


def test_corpus_words_seed_the_samples(trained, invoke):
    corpus_dir, model_dir, _ = trained
    words = [line.split("\t")[0] for line in (corpus_dir / "words.txt").read_text().splitlines()]
    # One text per request: each request draws its own familiar word.
    result = invoke("sample", "--model", model_dir, "-n", 8, "--per-request", 1, "--corpus", corpus_dir,
                    "--min-novelty", 0, "--json", "--rng-seed", 0)
    answers = responses(result)
    assert [answer["rng_seed"] for answer in answers] == list(range(8))
    assert all(answer["seed"] in words for answer in answers)
    assert len({answer["seed"] for answer in answers}) > 2
    assert all(text["text"].startswith(answer["seed"]) for answer in answers for text in answer["texts"])
    assert "seed words:" in result.stderr


def test_count_is_split_into_requests_of_at_most_per_request(trained, invoke):
    _, model_dir, _ = trained
    answers = responses(invoke("sample", "--model", model_dir, "-n", 20, "--raw", "--json", "--rng-seed", 5))
    assert [len(answer["texts"]) for answer in answers] == [16, 4]
    assert [answer["rng_seed"] for answer in answers] == [5, 6]
    assert [body["n"] for body in request_bodies(40, 16, 9, {})] == [16, 16, 8]


def test_without_corpus_the_training_corpus_is_used(trained, invoke, tmp_path):
    corpus_dir, model_dir, _ = trained
    args = ("sample", "-n", 4, "--min-novelty", 0, "--rng-seed", 2)
    assert lines(invoke(*args, "--model", model_dir)) == lines(invoke(*args, "--model", model_dir,
                                                                      "--corpus", corpus_dir))
    moved = shutil.copytree(model_dir, tmp_path / "model")
    meta = json.loads((moved / "lorecast-training.json").read_text())
    meta["corpus_path"] = str(tmp_path / "gone")
    (moved / "lorecast-training.json").write_text(json.dumps(meta))
    result = invoke(*args, "--model", moved)
    assert isinstance(result.exception, LorecastError) and "--corpus" in str(result.exception)
    assert lines(invoke(*args, "--model", moved, "--corpus", corpus_dir))


def test_another_corpus_is_used_with_a_warning(trained, invoke, small_corpus):
    _, model_dir, _ = trained
    (small_corpus / "words.txt").write_text("daemon\t3\n", encoding="utf-8")  # another corpus: other hash
    meta = json.loads((small_corpus / "meta.json").read_text())
    meta["content_hash"] = "other"
    (small_corpus / "meta.json").write_text(json.dumps(meta))
    result = invoke("sample", "--model", model_dir, "--corpus", small_corpus, "-n", 3, "--min-novelty", 0,
                    "--json")
    assert "warning:" in result.stderr and str(small_corpus) in result.stderr
    assert responses(result)[0]["seed"] == "daemon"


def test_samples_are_single_lines_cut_at_a_sentence_end(trained, invoke):
    _, model_dir, _ = trained
    samples = lines(invoke("sample", "--model", model_dir, "-n", 10, "--max-new-tokens", 40, "--rng-seed", 3,
                           "--min-novelty", 0))
    assert samples
    assert not any("\n" in sample or "<|endoftext|>" in sample for sample in samples)
    # The handler's filters cut every text back to a sentence end (and the model learnt the corpus lines).
    assert all(sample.endswith(".") for sample in samples)
    raw = lines(invoke("sample", "--model", model_dir, "-n", 10, "--max-new-tokens", 40, "--rng-seed", 3, "--raw"))
    assert len(raw) == 10
    assert not any("<|endoftext|>" in sample for sample in raw)
    assert sum(sample.endswith(".") for sample in raw) >= 5


def test_filters_and_handler_settings_apply(trained, invoke, tmp_path):
    _, model_dir, _ = trained
    blocklist = tmp_path / "terms.txt"
    blocklist.write_text("# every line of the corpus has it\nthe\n", encoding="utf-8")
    args = ("sample", "--model", model_dir, "-n", 4, "--seed-word", "wizard", "--min-novelty", 0, "--json")
    (blocked,) = responses(invoke(*args, "--blocklist", blocklist))
    assert blocked["texts"] == [] and blocked["missing"] == 4
    assert blocked["rejected"]["blocklist"] > 0
    (short,) = responses(invoke(*args, "--min-chars", 200, "--max-chars", 280))
    assert short["texts"] == [] and short["rejected"]["length"] > 0
    result = invoke(*args, "--min-chars", 300)
    assert result.exit_code == 2 and "min_chars" in result.output


def test_json_lines_are_responses_of_the_inference_api(trained, invoke):
    _, model_dir, _ = trained
    answers = responses(invoke("sample", "--model", model_dir, "-n", 3, "--min-novelty", 0, "--json"))
    validator = Draft202012Validator(RESPONSE_SCHEMA)
    for answer in answers:
        validator.validate(answer)
    assert answers[0]["ranked_by"] == "logprob" and answers[0]["batch_size"] == 1


def test_a_selector_ranks_the_texts(trained, invoke, tmp_path):
    _, model_dir, _ = trained
    torch.manual_seed(0)
    hidden = json.loads((model_dir / "config.json").read_text())["n_embd"]
    Selector(SelectorHead(hidden, 8), [-1], Calibration(1.0, 0.0)).save(tmp_path / "selector", metrics={},
                                                                         trained_on={})
    (answer,) = responses(invoke("sample", "--model", model_dir, "-n", 3, "--min-novelty", 0, "--json",
                                 "--selector", tmp_path / "selector", "--explore", 0))
    assert answer["ranked_by"] == "selector"
    scores = [text["score"] for text in answer["texts"]]
    assert scores == sorted(scores, reverse=True) and all(0 < score < 1 for score in scores)
    # A dir the archive would refuse is refused here too: empty, holding a pickle, or not loadable.
    broken = tmp_path / "broken"
    broken.mkdir()
    result = invoke("sample", "--model", model_dir, "--selector", broken)
    assert isinstance(result.exception, LorecastError) and "not a selector dir" in str(result.exception)
    for name in ("selector.json", "selector.safetensors"):
        (broken / name).write_text("{}", encoding="utf-8")
    result = invoke("sample", "--model", model_dir, "--selector", broken)
    assert isinstance(result.exception, LorecastError) and "not a loadable selector" in str(result.exception)
    (broken / "head.pt").write_bytes(b"")
    result = invoke("sample", "--model", model_dir, "--selector", broken)
    assert isinstance(result.exception, LorecastError) and "refusing pickle" in str(result.exception)


def test_refuses_a_dir_that_is_not_a_model_dir(tmp_path, invoke):
    result = invoke("sample", "--model", tmp_path)
    assert isinstance(result.exception, LorecastError)
    assert "not a model dir" in str(result.exception) and str(tmp_path) in str(result.exception)


def test_a_bad_option_is_refused_with_the_handler_reason(trained, invoke):
    _, model_dir, _ = trained
    result = invoke("sample", "--model", model_dir, "--top-k", -1)
    assert isinstance(result.exception, LorecastError) and "--top-k" in str(result.exception)
    result = invoke("sample", "--model", model_dir, "--mirostat", 3, "--top-p", 0.5)
    assert isinstance(result.exception, LorecastError) and "mirostat" in str(result.exception)


def test_samples_stop_at_the_model_context(trained, invoke):
    _, model_dir, _ = trained
    # The test model's context is 32 tokens; asking for more must not run past it.
    samples = lines(invoke("sample", "--model", model_dir, "-n", 3, "--max-new-tokens", 256, "--temperature", 2.0,
                           "--rng-seed", 1, "--raw"))
    assert len(samples) == 3


def test_prompt_longer_than_the_context(trained, invoke):
    _, model_dir, _ = trained
    result = invoke("sample", "--model", model_dir, "-n", 1, "--prompt", "kernel " * 40)
    assert isinstance(result.exception, LorecastError)
    assert "context" in str(result.exception)
