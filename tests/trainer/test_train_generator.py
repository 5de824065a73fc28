"""Real (short) training runs of `train_generator`: from scratch, time budget, finetune, resume."""

from __future__ import annotations

import json
import math

import pytest
import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2LMHeadModel

from dataset.corpus import load_corpus
from serve_handler import layout
from trainer.generator import GeneratorOptions, train_generator
from trainer.model_dir import METADATA_FILE

pytestmark = pytest.mark.slow



def test_training_lowers_eval_loss(trained):
    _, _, result = trained
    assert result.eval_loss < result.eval_loss_before - 0.5
    assert result.perplexity == pytest.approx(math.exp(result.eval_loss))
    assert result.perplexity_before == pytest.approx(math.exp(result.eval_loss_before))


def test_model_dir_loads_and_generates(trained):
    _, model_dir, _ = trained
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    assert isinstance(model, GPT2LMHeadModel)
    assert tokenizer.is_fast
    prompt = tokenizer(tokenizer.eos_token + "the", return_tensors="pt")
    output = model.generate(**prompt, max_new_tokens=8, do_sample=False)
    assert output.shape[1] > prompt["input_ids"].shape[1]
    assert tokenizer.decode(output[0], skip_special_tokens=True).startswith("the")


def test_model_dir_holds_safetensors_and_no_pickles(trained):
    _, model_dir, _ = trained
    for name in ("model.safetensors", "config.json", "generation_config.json", "tokenizer.json"):
        assert (model_dir / name).is_file(), name
    assert not [path for path in model_dir.rglob("*") if path.suffix in layout.PICKLE_SUFFIXES]
    assert not (model_dir / "checkpoints").exists()


def test_metadata_records_the_run(trained):
    corpus_dir, model_dir, result = trained
    meta = json.loads((model_dir / METADATA_FILE).read_text())
    assert meta["preset"] == "test" and meta["base"] is None
    assert meta["corpus_path"] == str(corpus_dir)
    assert meta["corpus_content_hash"] == load_corpus(corpus_dir).content_hash
    assert meta["eval_loss"] == result.eval_loss < meta["eval_loss_before"]
    assert meta["steps"] == 200
    assert 0 < meta["epochs"] and 0 < meta["wall_seconds"]
    # At most 200 steps of 8 blocks of 32 tokens; less the padded block and the short last batch
    # of each epoch (the small corpus is a few steps long).
    assert 0.9 * 200 * 8 * 32 <= meta["tokens_seen"] <= 200 * 8 * 32
    assert meta["train_loss"] > 0
    assert meta["stopped_by_time_budget"] is False
    assert meta["seed"] == 1234
    assert meta["parameters"] == AutoModelForCausalLM.from_pretrained(model_dir).num_parameters()
    assert meta["versions"]["torch"] == torch.__version__
    assert meta["versions"]["transformers"] == transformers.__version__
    assert meta["options"]["max_steps"] == 200


def test_max_minutes_stops_training_early(small_corpus, test_preset, tmp_path):
    options = GeneratorOptions(preset=test_preset, max_steps=500, batch_size=4, max_minutes=1e-4)
    result = train_generator(small_corpus, tmp_path / "model", options)
    assert result.stopped_by_time_budget
    assert 1 <= result.steps < 500
    meta = json.loads((tmp_path / "model" / METADATA_FILE).read_text())
    assert meta["stopped_by_time_budget"] is True and meta["steps"] == result.steps


def test_finetune_starts_from_the_base_weights(trained, tmp_path):
    corpus_dir, base_dir, base_result = trained
    options = GeneratorOptions(base=str(base_dir), max_steps=5, batch_size=8)
    result = train_generator(corpus_dir, tmp_path / "finetuned", options)
    # Same test set, same weights before training: the base's final loss is this run's first.
    assert result.eval_loss_before == pytest.approx(base_result.eval_loss, rel=1e-4)
    assert result.base == str(base_dir) and result.preset is None
    base_vocab = AutoTokenizer.from_pretrained(base_dir).get_vocab()
    assert AutoTokenizer.from_pretrained(tmp_path / "finetuned").get_vocab() == base_vocab


def test_resume_continues_from_the_last_checkpoint(small_corpus, test_preset, tmp_path):
    model_dir = tmp_path / "model"
    first = GeneratorOptions(
        preset=test_preset, max_steps=6, batch_size=4, save_every=3, keep_checkpoints=True
    )
    train_generator(small_corpus, model_dir, first)
    assert (model_dir / "checkpoints" / "checkpoint-6").is_dir()

    second = GeneratorOptions(preset=test_preset, max_steps=10, batch_size=4, resume=True)
    result = train_generator(small_corpus, model_dir, second)
    assert result.resumed_from.endswith("checkpoint-6")
    assert result.steps == 10
    assert not (model_dir / "checkpoints").exists()
    assert json.loads((model_dir / METADATA_FILE).read_text())["steps"] == 10


def test_cli_trains_the_tiny_preset_and_reports_eval(small_corpus, tmp_path, invoke):
    out = tmp_path / "model"
    result = invoke(
        "generator", "--corpus", small_corpus, "-o", out, "--preset", "tiny",
        "--max-steps", 2, "--batch-size", 2,
    )
    assert result.exit_code == 0, result.output
    meta = json.loads((out / METADATA_FILE).read_text())
    assert meta["preset"] == "tiny" and meta["steps"] == 2
    assert f"perplexity {meta['perplexity']:.2f}" in result.stdout
    assert f"eval loss {meta['eval_loss']:.4f}" in result.stdout
