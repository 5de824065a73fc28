"""The selector's training: the head on a synthetic task, Platt calibration, and bootstrap runs of
`lorecast train selector` on the session's small trained generator (tests/conftest.py `trained`)."""

from __future__ import annotations

import hashlib
import json
import math
import re

import pytest
import torch
from cli_harness import lorecast
from sklearn.metrics import roc_auc_score
from transformers import AutoModelForCausalLM, AutoTokenizer

from dataset.corpus import load_corpus
from serve_handler.seeds import SeedWords
from serve_handler.selector import CONFIG_FILE, WEIGHTS_FILE, Selector
from trainer.selector_examples import HandlerShape, generate_negatives, positives
from trainer.selector_head import fit_calibration, train_head
from trainer.selector_training import SelectorOptions, train_selector

# The session corpus has 40 test lines; the command's default minimum is 50.
FEW_POSITIVES = ("--min-positives", "20")


def separable_task(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Features whose label is the side of a random hyperplane they lie on, with a margin, in 24 dimensions."""
    generator = torch.Generator().manual_seed(seed)
    direction = torch.nn.functional.normalize(torch.randn(24, generator=torch.Generator().manual_seed(99)), dim=0)
    features = torch.randn(count, 24, generator=generator) * 3 + 1
    side = features @ direction - (torch.ones(24) @ direction)
    features += torch.outer(torch.sign(side) * 0.5, direction)  # push both sides apart a little
    return features, (side > 0).long()


def test_the_head_learns_a_separable_task():
    train_x, train_y = separable_task(600, seed=1)
    val_x, val_y = separable_task(150, seed=2)
    test_x, test_y = separable_task(300, seed=3)
    fit = train_head(train_x, train_y, val_x, val_y, hidden_size=16, seed=0)
    with torch.inference_mode():
        logits = fit.head(test_x)
    assert roc_auc_score(test_y.numpy(), logits.numpy()) >= 0.95
    assert 0 < fit.best_step <= fit.steps and not fit.stopped_by_time_budget


def test_the_head_training_stops_at_its_deadline():
    train_x, train_y = separable_task(200, seed=1)
    fit = train_head(train_x, train_y, train_x, train_y, deadline=0.0)  # long past
    assert fit.stopped_by_time_budget and fit.steps == 1


def test_calibration_recovers_the_slope_and_offset():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(20000, generator=generator) * 2
    labels = (torch.rand(20000, generator=generator) < torch.sigmoid(1.5 * logits - 0.5)).long()
    calibration = fit_calibration(logits, labels)
    assert calibration.a == pytest.approx(1.5, abs=0.1)
    assert calibration.b == pytest.approx(-0.5, abs=0.1)


@pytest.mark.slow
def test_bootstrap_run_prints_and_stores_its_roc_auc(trained, tmp_path):
    corpus_dir, model_dir, _ = trained
    out = tmp_path / "selectors" / "selector"
    code, stdout, stderr = lorecast("train", "selector", "--model", str(model_dir), "--corpus", str(corpus_dir),
                                    "-o", str(out), *FEW_POSITIVES)
    assert code == 0, stderr
    printed = re.search(r"val ROC-AUC (\d\.\d{3}), calibrated ROC-AUC (\d\.\d{3})", stdout)
    assert printed, stdout
    assert f"selector dir: {out}" in stdout

    assert sorted(path.name for path in out.iterdir()) == [CONFIG_FILE, WEIGHTS_FILE]
    assert [path.name for path in out.parent.iterdir()] == ["selector"]  # no stage dir left behind
    config = json.loads((out / CONFIG_FILE).read_text())
    metrics, trained_on = config["metrics"], config["trained_on"]
    assert f"{metrics['val_roc_auc']:.3f}" == printed.group(1)
    assert f"{metrics['calibration_roc_auc']:.3f}" == printed.group(2)
    assert 0.0 <= metrics["val_roc_auc"] <= 1.0 and metrics["val_loss"] > 0
    counts = metrics["counts"]
    assert sum(part["positive"] for part in counts.values()) == trained_on["positives"] >= 20
    assert sum(part["negative"] for part in counts.values()) == trained_on["negatives"] == trained_on["positives"]
    assert min(part[label] for part in counts.values() for label in ("positive", "negative")) >= 2
    weights = hashlib.sha256((model_dir / "model.safetensors").read_bytes()).hexdigest()
    assert trained_on["generator"]["weights_sha256"] == weights
    assert trained_on["corpus"]["content_hash"] == load_corpus(corpus_dir).content_hash
    assert trained_on["mode"] == "bootstrap" and trained_on["options"]["layers"] == [-1]

    selector = Selector.load(out)
    assert selector.layers == [-1]
    assert selector.calibration.a == config["calibration"]["a"]
    model, tokenizer = AutoModelForCausalLM.from_pretrained(model_dir), AutoTokenizer.from_pretrained(model_dir)
    texts = load_corpus(corpus_dir).test[:5] + ["kernel kernel kernel the the", "zzz qqq xxx"]
    probabilities = selector.probabilities(model, tokenizer, texts)
    assert len(probabilities) == len(texts)
    assert all(0.0 < p < 1.0 for p in probabilities)


@pytest.mark.slow
def test_same_seed_same_selector_and_force_replaces_it(trained, tmp_path):
    corpus_dir, model_dir, _ = trained
    options = SelectorOptions(layers=(-1, 0), hidden_size=8, min_positives=20, rng_seed=7)
    first = train_selector(model_dir, corpus_dir, tmp_path / "a", options)
    train_selector(model_dir, corpus_dir, tmp_path / "b", options)
    assert (tmp_path / "a" / WEIGHTS_FILE).read_bytes() == (tmp_path / "b" / WEIGHTS_FILE).read_bytes()
    assert Selector.load(tmp_path / "a").layers == [-1, 0]
    assert first.positives == first.negatives

    again = train_selector(model_dir, corpus_dir, tmp_path / "a",
                           SelectorOptions(hidden_size=4, min_positives=20, force=True))
    assert again.selector_dir == str(tmp_path / "a")
    assert json.loads((tmp_path / "a" / CONFIG_FILE).read_text())["hidden_size"] == 4
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a", "b"]


@pytest.mark.slow
def test_max_minutes_stops_early_and_still_writes_a_selector(trained, tmp_path):
    corpus_dir, model_dir, _ = trained
    result = train_selector(model_dir, corpus_dir, tmp_path / "s",
                            SelectorOptions(min_positives=20, negatives=1000, max_minutes=1e-6))
    assert result.stopped_by_time_budget
    assert result.steps == 1
    assert result.negatives <= 64  # one generation batch
    config = json.loads((tmp_path / "s" / CONFIG_FILE).read_text())
    assert config["trained_on"]["stopped_by_time_budget"] is True


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("--layers", "2"), "--layers 2: out of range for this generator's 2 hidden states, -2..1"),
        (("--layers", "-1,1"), "--layers -1,1: names the same layer twice"),
        ((), r"test.txt: \d+ usable held-out lines, at least 50 needed"),
    ],
)
def test_bad_runs_give_one_line_errors(trained, tmp_path, arguments, message):
    corpus_dir, model_dir, _ = trained
    code, _, stderr = lorecast("train", "selector", "--model", str(model_dir), "--corpus", str(corpus_dir),
                               "-o", str(tmp_path / "s"), *arguments)
    assert code == 1
    assert stderr.startswith("error: ") and re.search(message, stderr), stderr
    assert not (tmp_path / "s").exists()


def test_layers_must_be_integers(trained, tmp_path, invoke):
    corpus_dir, model_dir, _ = trained
    result = invoke("selector", "--model", model_dir, "--corpus", corpus_dir, "-o", tmp_path / "s", "--layers", "x")
    assert result.exit_code == 2
    assert "not a comma-separated list of integers" in result.output


def test_force_never_replaces_a_dir_that_is_not_a_selector(trained, tmp_path):
    corpus_dir, model_dir, _ = trained
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    for extra in ((), ("--force",)):
        code, _, stderr = lorecast("train", "selector", "--model", str(model_dir), "--corpus", str(corpus_dir),
                                   "-o", str(other), *FEW_POSITIVES, *extra)
        assert code == 1 and stderr.startswith("error: ")
    assert "refusing to replace it even with --force" in stderr
    assert [path.name for path in other.iterdir()] == ["keep.txt"]


def test_positives_take_the_shape_of_served_candidates(trained):
    _, model_dir, _ = trained
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    shape = HandlerShape(max_tokens=12, min_chars=10, max_chars=280)
    long_line = "the old hacker patches the bug. the clever wizard forks the kernel and then the daemon reboots"
    assert len(tokenizer(long_line)["input_ids"]) > 12
    lines = [
        "the sleepy daemon greps the packet.",
        "the sleepy daemon greps the packet.",  # a repeat
        "too short.",  # 10 characters: kept
        "tiny.",  # 5 characters: dropped
        long_line,  # cut after "bug."
        "the old hacker patches the clever wizard and forks the kernel and the daemon again",  # no end to cut at
    ]
    assert positives(lines, tokenizer, shape) == [
        "the sleepy daemon greps the packet.", "too short.", "the old hacker patches the bug.",
    ]


@pytest.mark.slow
def test_negatives_are_distinct_new_texts_of_candidate_shape(trained):
    corpus_dir, model_dir, _ = trained
    corpus = load_corpus(corpus_dir)
    model, tokenizer = AutoModelForCausalLM.from_pretrained(model_dir), AutoTokenizer.from_pretrained(model_dir)
    shape = HandlerShape.from_defaults(model.config.n_positions)
    seed_words = SeedWords([word for word, _ in corpus.words], familiar=2000)
    draw = generate_negatives(model, tokenizer, seed_words, 40, shape, 5, set(corpus.train), math.inf)
    assert len(draw.texts) == 40 and 40 <= draw.generated <= 4 * 40
    assert len(set(draw.texts)) == 40
    assert not set(draw.texts) & set(corpus.train)
    seeds = tuple(word for word, _ in corpus.words)
    assert all(shape.fits(text) and text.startswith(seeds) for text in draw.texts), draw.texts
    again = generate_negatives(model, tokenizer, seed_words, 40, shape, 5, set(corpus.train), math.inf)
    other = generate_negatives(model, tokenizer, seed_words, 40, shape, 6, set(corpus.train), math.inf)
    assert again.texts == draw.texts and other.texts != draw.texts
