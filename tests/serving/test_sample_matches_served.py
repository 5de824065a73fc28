"""What you preview is what gets served: `lorecast train sample` and a real TorchServe serving an archive of the same
model, corpus, blocklist and handler settings (conftest.py: blocklist "wizard", min_chars 1) return the same texts
for the same requests."""

from __future__ import annotations

import json

import pytest
from cli_harness import lorecast

pytestmark = pytest.mark.slow

# Request bodies, and the `train sample` options that ask for the same.
CASES = [
    ({"n": 3, "rng_seed": 11}, []),
    ({"n": 2, "seed": "kernel", "rng_seed": 5, "min_novelty": 0}, ["--seed-word", "kernel", "--min-novelty", "0"]),
    ({"n": 4, "rng_seed": 1234, "temperature": 1.3, "top_k": 40, "explore": 0.5},
     ["--temperature", "1.3", "--top-k", "40", "--explore", "0.5"]),
    ({"n": 2, "prompt": "the clever", "rng_seed": 3, "candidates": 6, "min_novelty": 0, "max_new_tokens": 20},
     ["--prompt", "the clever", "--candidates", "6", "--min-novelty", "0", "--max-new-tokens", "20"]),
    ({"n": 2, "seed": "wizard", "rng_seed": 8, "min_novelty": 0, "mirostat": {"tau": 4.0}},
     ["--seed", "wizard", "--min-novelty", "0", "--mirostat", "4.0"]),
]


@pytest.fixture(scope="module")
def blocklist(tmp_path_factory):
    path = tmp_path_factory.mktemp("sample_blocklist") / "terms.txt"
    path.write_text("wizard\n", encoding="utf-8")  # the terms of the served archive (conftest.py model_store)
    return path


def sample(trained, blocklist, *options) -> list[dict]:
    corpus, model, _ = trained
    result = lorecast("train", "sample", "--model", model, "--corpus", corpus, "--blocklist", blocklist,
                      "--min-chars", 1, "--json", *options)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def served(predict, body) -> dict:
    status, answer, _ = predict(body)
    assert status == 200, answer
    assert answer["batch_size"] == 1  # alone in its batch, as train sample serves each request
    return answer


def same(previewed: dict, answer: dict) -> None:
    assert [text["text"] for text in previewed["texts"]] == [text["text"] for text in answer["texts"]]
    for mine, theirs in zip(previewed["texts"], answer["texts"]):
        assert mine["seed"] == theirs["seed"] and mine["exploratory"] == theirs["exploratory"]
        assert mine["score"] == pytest.approx(theirs["score"], abs=1e-5)
        assert mine["novelty"] == pytest.approx(theirs["novelty"], abs=1e-9)
    for key in ("seed", "seed_requested", "prompt", "rng_seed", "ranked_by", "candidates", "rejected", "missing"):
        assert previewed[key] == answer[key], key


@pytest.mark.parametrize(("body", "options"), CASES, ids=[str(index) for index in range(len(CASES))])
def test_train_sample_returns_the_served_texts(trained, blocklist, predict, body, options):
    (previewed,) = sample(trained, blocklist, "-n", str(body["n"]), "--rng-seed", str(body["rng_seed"]), *options)
    same(previewed, served(predict, body))


def test_the_blocklist_and_settings_are_the_archive_ones(trained, blocklist, predict):
    # "wizard" is blocked in the archive: candidates that say it as a word are rejected on both sides.
    body = {"n": 8, "seed": "kernel", "rng_seed": 17, "min_novelty": 0, "candidates": 8}
    (previewed,) = sample(trained, blocklist, "-n", "8", "--rng-seed", "17", "--seed", "kernel",
                          "--min-novelty", "0", "--candidates", "8")
    answer = served(predict, body)
    same(previewed, answer)
    assert answer["rejected"]["blocklist"] > 0


def test_more_than_one_request_each_has_rng_seed_plus_i(trained, blocklist, predict):
    previewed = sample(trained, blocklist, "-n", "7", "--per-request", "3", "--rng-seed", "40", "--min-novelty", "0")
    assert [answer["rng_seed"] for answer in previewed] == [40, 41, 42]
    for answer, n in zip(previewed, (3, 3, 1)):
        same(answer, served(predict, {"n": n, "rng_seed": answer["rng_seed"], "min_novelty": 0}))
