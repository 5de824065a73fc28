"""Fixtures shared by every test package: small corpus dirs written by hand, one model trained once per session,
and one real TorchServe serving it (token auth on, free ports on 127.0.0.1, an empty run dir and no environment
but PATH and its own temp dir), started the first time a test asks for it. The `lorecast` command itself is run
through tests/cli_harness.py.

The slow mark, and the everyday run `pytest -m "not slow"` (about a minute on 2 CPU cores; `make test` runs all):
a test is `slow` when it trains a model or starts TorchServe; the tests against the real Bluesky PDS and the
posters' fault matrix carry it too (their modules' `pytestmark`). Two rules give it the mark:
- a test that asks for one of SLOW_FIXTURES, directly or through another fixture (pytest's fixture closure,
  so a module's own fixture built on `trained` counts too), is marked here in pytest_collection_modifyitems.
  These are `trained` (one training run), `model_store` (a .mar of it; tests/ops/test_local_server.py
  has its own echo-handler store under the same name), `server` (a real TorchServe: the session's, or that
  module's) and `predict` (requests to the session's server). A new fixture that trains or serves joins the set,
  unless it is built on one of them already.
- a test that trains or starts TorchServe in its own body (train_generator, `lorecast train generator|selector`
  on a real run, LocalTorchServe(...).start(), `lorecast serve start`, benchmarks/serving_bench.py) carries
  `@pytest.mark.slow` itself (or its module a `pytestmark`).
A test without the mark that launches TorchServe anyway fails at the launch with a message saying so (the
`_torchserve_needs_the_slow_mark` fixture below), so the everyday run cannot quietly grow a TorchServe start.
"""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path

import pytest
from serving_setup import BATCH_DELAY_MS, BATCH_SIZE, MODEL, post

from dataset.corpus import content_hash
from ops.archive import ServingOptions, build_archive
from ops.local_server import LocalTorchServe
from serve_handler.settings import HandlerSettings
from trainer.presets import Preset

# Fixtures that train a model or start TorchServe: a test that needs one, directly or not, is `slow` (see above).
SLOW_FIXTURES = frozenset({"trained", "model_store", "server", "predict"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


class _GuardedPopen(subprocess.Popen):
    """subprocess.Popen that refuses to launch TorchServe: what an unmarked test gets."""

    def __init__(self, args, *rest, **options):
        program = args if isinstance(args, (str, bytes, Path)) else args[0]
        if Path(str(program)).name in ("torchserve", "torchserve.exe"):
            pytest.fail("this test starts TorchServe: mark it @pytest.mark.slow (see tests/conftest.py)",
                        pytrace=False)
        super().__init__(args, *rest, **options)


@pytest.fixture(autouse=True)
def _torchserve_needs_the_slow_mark(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.node.get_closest_marker("slow") is None:
        monkeypatch.setattr(subprocess, "Popen", _GuardedPopen)


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




@pytest.fixture(scope="session")
def model_store(trained, tmp_path_factory) -> Path:
    corpus, model, _ = trained
    store = tmp_path_factory.mktemp("model_store")
    blocklist = tmp_path_factory.mktemp("blocklist") / "terms.txt"
    blocklist.write_text("wizard\n", encoding="utf-8")
    options = ServingOptions(batch_size=BATCH_SIZE, max_batch_delay=BATCH_DELAY_MS,
                             handler=HandlerSettings(min_chars=1))
    build_archive(model, corpus, store / f"{MODEL}.mar", blocklists=[blocklist], options=options)
    return store


@pytest.fixture(scope="session")
def server(model_store, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    assert not any(run_dir.iterdir())
    with LocalTorchServe(run_dir, model_store, [f"{MODEL}.mar"], isolated=True, clean_env=True) as served:
        yield served


_WITH_KEY = object()


@pytest.fixture(scope="session")
def predict(server):
    """predict(body, key=<the inference key>, content_type="application/json") -> (status, body, headers)."""

    def call(body, key=_WITH_KEY, content_type="application/json"):
        key = server.inference_key if key is _WITH_KEY else key
        return post(server.predictions_url(MODEL), body, key, content_type)

    return call
