"""Fixtures shared by every test package: the CLI runner, small corpus dirs written by hand, and one model
trained once per session."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest

from dataset.cli import main
from dataset.corpus import content_hash
from trainer.presets import Preset

# Smaller than any real preset, so a training run takes a second or two on 2 CPU cores.
TEST_PRESET = Preset(
    "test", n_layer=1, n_head=2, n_embd=32, context=32, vocab_size=320, learning_rate=5e-3,
    dropout=0.0,
)

NOUNS = ["hacker", "kernel", "daemon", "wizard", "bug", "terminal", "compiler", "packet"]
VERBS = ["patches", "crashes", "compiles", "reboots", "greps", "forks"]
ADJECTIVES = ["old", "sleepy", "clever", "broken", "shiny"]


def sentences(count: int, seed: int) -> list[str]:
    """Lines with a grammar a tiny model picks up within a few dozen steps."""
    rng = random.Random(seed)
    return [
        f"the {rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {rng.choice(VERBS)} "
        f"the {rng.choice(NOUNS)}."
        for _ in range(count)
    ]


def write_corpus(
    directory: Path, train: list[str], test: list[str], words: list[tuple[str, int]]
) -> Path:
    """A corpus dir as `lorecast dataset build` writes it (see dataset/corpus.py)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "train.txt").write_text("".join(line + "\n" for line in train), encoding="utf-8")
    (directory / "test.txt").write_text("".join(line + "\n" for line in test), encoding="utf-8")
    (directory / "words.txt").write_text(
        "".join(f"{word}\t{count}\n" for word, count in words), encoding="utf-8"
    )
    meta = {"content_hash": content_hash(train, test, words), "examples": len(train) + len(test)}
    (directory / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    return directory


def make_small_corpus(directory: Path) -> Path:
    words = [(noun, 10) for noun in NOUNS]
    return write_corpus(directory, sentences(400, seed=1), sentences(40, seed=2), words)


@pytest.fixture
def test_preset() -> Preset:
    return TEST_PRESET


@pytest.fixture
def corpus_writer():
    """`write_corpus(directory, train, test, words)` for tests that need their own lines."""
    return write_corpus


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    return make_small_corpus(tmp_path / "corpus")


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory):
    """(corpus dir, model dir, TrainingResult) of one short from-scratch run."""
    from trainer.generator import GeneratorOptions, train_generator

    root = tmp_path_factory.mktemp("trained")
    corpus = make_small_corpus(root / "corpus")
    options = GeneratorOptions(preset=TEST_PRESET, max_steps=200, batch_size=8, warmup=0)
    result = train_generator(corpus, root / "model", options)
    return corpus, root / "model", result




@pytest.fixture
def run_main(monkeypatch, capsys):
    """Run the real console entry point, `lorecast ARGS...`, in-process: (exit code, stdout, stderr).

    Unlike click's CliRunner this goes through `main()`, which turns a LorecastError into one
    `error: ...` line on stderr.
    """

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["lorecast", *args])
        with pytest.raises(SystemExit) as done:
            main()
        captured = capsys.readouterr()
        return done.value.code, captured.out, captured.err

    return run
