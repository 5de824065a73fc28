"""One real TorchServe for the serving tests: a .mar built from the model the suite trains, token auth on, free
ports on 127.0.0.1, started in an empty run dir with no environment but PATH (and its own temp dir)."""

from __future__ import annotations

from pathlib import Path

import pytest

from serve_handler.archive import ServingOptions, build_archive
from serve_handler.local_server import LocalTorchServe
from serve_handler.settings import HandlerSettings
from serving_setup import BATCH_DELAY_MS, BATCH_SIZE, MODEL, post


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
