"""The whole chain on the shipped demo corpus, through the CLI, at a size that runs in seconds:
dataset build -> train generator (tiny preset, a few steps) -> train sample -> dataset inspect."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from cli_harness import lorecast

DEMO = Path(__file__).resolve().parents[1] / "dataset" / "demo" / "jargon-4.4.7.jsonl"

pytestmark = pytest.mark.slow


def invoke(*args: str) -> str:
    """stdout of `lorecast ARGS...` (the samples, the summary, the report path); stderr has only notes."""
    result = lorecast(*args)  # an unexpected exception propagates, with its traceback
    assert result.exit_code == 0, result.output
    return result.stdout


def test_demo_corpus_to_report(tmp_path):
    corpus, model, report = tmp_path / "corpus", tmp_path / "model", tmp_path / "report"
    invoke("dataset", "build", DEMO, "--field", "definition", "--title-field", "headword", "-o", corpus)
    meta = json.loads((corpus / "meta.json").read_text())
    assert meta["counts"]["records"] == 2307 and meta["counts"]["train"] > 5000

    output = invoke(
        "train", "generator", "--corpus", corpus, "--preset", "tiny", "--max-steps", "40", "-o", model
    )
    training = json.loads((model / "lorecast-training.json").read_text())
    assert training["preset"] == "tiny" and training["steps"] == 40
    assert training["eval_loss"] < training["eval_loss_before"]
    assert f"{training['perplexity']:.2f}" in output
    assert math.isclose(training["perplexity"], math.exp(training["eval_loss"]))

    samples = invoke("train", "sample", "--model", model, "--corpus", corpus, "-n", "6", "--rng-seed", "3")
    lines = samples.splitlines()
    assert len(lines) == 6 and all(line.strip() for line in lines)
    generated = tmp_path / "samples.txt"
    generated.write_text(samples, encoding="utf-8")

    printed = invoke("dataset", "inspect", corpus, "--against", generated, "-o", report)
    index = report / "index.html"
    assert str(index) in printed
    assert "ngram_overlap.png" in index.read_text(encoding="utf-8")
