"""`lorecast train generator` refuses bad input with one clear line, before any training."""

from __future__ import annotations

import json

from lorecast.errors import LorecastError


def error_of(result) -> str:
    assert isinstance(result.exception, LorecastError), result.output
    message = str(result.exception)
    assert "\n" not in message
    return message


def test_missing_corpus_dir(tmp_path, invoke):
    message = error_of(invoke("generator", "--corpus", tmp_path / "nope", "-o", tmp_path / "m"))
    assert "nope" in message and "not a corpus dir" in message


def test_corpus_dir_without_its_files(tmp_path, invoke):
    (tmp_path / "corpus").mkdir()
    message = error_of(invoke("generator", "--corpus", tmp_path / "corpus", "-o", tmp_path / "m"))
    assert "missing train.txt" in message


def test_empty_train_set(tmp_path, corpus_writer, invoke):
    corpus = corpus_writer(tmp_path / "corpus", [], ["a test line"], [("word", 1)])
    message = error_of(invoke("generator", "--corpus", corpus, "-o", tmp_path / "m"))
    assert "train.txt" in message and "no training examples" in message
    assert not (tmp_path / "m").exists()


def test_base_and_preset_together(small_corpus, tmp_path, invoke):
    result = invoke(
        "generator", "--corpus", small_corpus, "-o", tmp_path / "m", "--base", "gpt2",
        "--preset", "tiny",
    )
    assert "not both" in error_of(result)


def test_base_dir_not_found(small_corpus, tmp_path, invoke):
    missing = tmp_path / "no-such-model"
    result = invoke("generator", "--corpus", small_corpus, "-o", tmp_path / "m", "--base", missing)
    message = error_of(result)
    assert str(missing) in message and "no such directory" in message


def test_base_dir_that_is_not_a_model_leaves_the_output_alone(small_corpus, tmp_path, invoke):
    (tmp_path / "empty").mkdir()
    base = tmp_path / "empty"
    out = tmp_path / "m"
    out.mkdir()
    (out / "config.json").write_text("{}")  # an earlier model dir, which --force may replace
    (out / "keep.txt").write_text("mine")
    result = invoke("generator", "--corpus", small_corpus, "-o", out, "--base", base, "--force")
    assert f"--base {base}: cannot load it" in error_of(result)
    assert (out / "keep.txt").read_text() == "mine"


def test_base_that_is_not_gpt2(small_corpus, tmp_path, invoke):
    base = tmp_path / "llama"
    base.mkdir()
    (base / "config.json").write_text(json.dumps({"model_type": "llama"}))
    result = invoke("generator", "--corpus", small_corpus, "-o", tmp_path / "m", "--base", base)
    assert "a llama model, not GPT-2" in error_of(result)


def test_non_empty_output_dir_needs_force(small_corpus, tmp_path, invoke):
    out = tmp_path / "m"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    message = error_of(invoke("generator", "--corpus", small_corpus, "-o", out))
    assert str(out) in message and "--force" in message
    assert (out / "keep.txt").read_text() == "mine"


def test_force_never_deletes_the_corpus(small_corpus, invoke):
    result = invoke("generator", "--corpus", small_corpus, "-o", small_corpus.parent, "--force")
    assert "would hold the corpus dir" in error_of(result)
    assert (small_corpus / "train.txt").is_file()


def test_resume_without_checkpoints(small_corpus, tmp_path, invoke):
    (tmp_path / "m").mkdir()
    result = invoke("generator", "--corpus", small_corpus, "-o", tmp_path / "m", "--resume")
    assert "nothing to resume" in error_of(result)


def test_mixed_precision_without_a_gpu(small_corpus, tmp_path, invoke, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    result = invoke("generator", "--corpus", small_corpus, "-o", tmp_path / "m", "--fp16")
    assert "--fp16 needs a CUDA GPU" in error_of(result)
    result = invoke("generator", "--corpus", small_corpus, "-o", tmp_path / "m", "--bf16")
    assert "--bf16 needs a CUDA GPU" in error_of(result)
