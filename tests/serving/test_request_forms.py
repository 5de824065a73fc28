"""A request is checked the same way whatever TorchServe would do with it.

TorchServe decodes a body sent as exactly `application/json` before the handler sees it (and not one sent as
`APPLICATION/JSON`, or with a charset): decoded, a duplicate key, whitespace padding and a JSON string holding an
object slip past the request contract. The handler turns that decoding off in its own worker, so each case below
gets the same answer in every spelling of the type, both from the shared server (the repository's
config.properties: decoding off, bodies over 64 KiB refused by the frontend) and from one started with
TorchServe's defaults (decoding on, 6.5 MB bodies let through).
"""

from __future__ import annotations

import json
import urllib.error
from pathlib import Path

import pytest
from serving_setup import MODEL, post

from ops.local_server import DEFAULT_CONFIG, LocalTorchServe
from serve_handler.request import MAX_BODY_BYTES

pytestmark = pytest.mark.slow

SPELLINGS = ["application/json", "APPLICATION/JSON", "application/json; charset=utf-8"]
PADDED = b'{"n": 1, "rng_seed": 3}' + b" " * (1024 * 1024)  # the 64 KiB limit counts raw bytes


@pytest.fixture(scope="module")
def default_server(model_store: Path, tmp_path_factory: pytest.TempPathFactory):
    """TorchServe with our config less the two request-body settings: TorchServe's own defaults for those."""
    config = tmp_path_factory.mktemp("config") / "config.properties"
    lines = DEFAULT_CONFIG.read_text(encoding="utf-8").splitlines()
    config.write_text("\n".join(line for line in lines if not line.startswith(("decode_input_request",
                                                                               "max_request_size"))) + "\n")
    with LocalTorchServe(tmp_path_factory.mktemp("run"), model_store, [f"{MODEL}.mar"], config=config,
                         isolated=True, clean_env=True) as served:
        yield served


@pytest.fixture(params=["repository config", "TorchServe defaults"])
def served(request, server, default_server) -> LocalTorchServe:
    return server if request.param == "repository config" else default_server


def ask(server: LocalTorchServe, body: bytes, content_type: str):
    return post(server.predictions_url(MODEL), body, server.inference_key, content_type)


@pytest.mark.parametrize("content_type", SPELLINGS)
def test_duplicate_keys_are_refused(served, content_type: str) -> None:
    status, body, _ = ask(served, b'{"n": 999, "n": 1}', content_type)
    assert (status, body) == (400, {"error": "duplicate field 'n'"})


@pytest.mark.parametrize("content_type", SPELLINGS)
def test_a_json_string_holding_an_object_is_refused(served, content_type: str) -> None:
    status, body, _ = ask(served, json.dumps(json.dumps({"n": 1})).encode(), content_type)
    assert status == 400
    assert body["error"].startswith("body: must be an object, got '{")


@pytest.mark.parametrize("content_type", SPELLINGS)
def test_a_valid_body_is_served_in_every_spelling(served, content_type: str) -> None:
    status, body, _ = ask(served, b'{"n": 1, "rng_seed": 3, "min_novelty": 0}', content_type)
    assert status == 200, body
    assert body["rng_seed"] == 3


@pytest.mark.parametrize("content_type", SPELLINGS)
def test_a_padded_body_is_refused(server, default_server, content_type: str) -> None:
    # Our config: TorchServe's frontend refuses it before any worker reads it (it answers 413, or, when the
    # client is still sending, closes the connection).
    try:
        status, _, _ = ask(server, PADDED, content_type)
    except (urllib.error.URLError, ConnectionError) as error:
        reason = getattr(error, "reason", error)
        assert isinstance(reason, (ConnectionResetError, BrokenPipeError)), error
    else:
        assert status == 413
    # TorchServe's default limit lets it through: the handler measures the raw bytes itself.
    status, body, _ = ask(default_server, PADDED, content_type)
    assert status == 400
    assert body["error"] == f"body is {len(PADDED)} bytes, over the limit of {MAX_BODY_BYTES} bytes (64 KiB)"


def test_malformed_bodies_leave_no_tracebacks_in_the_worker_log(default_server) -> None:
    log = default_server.console_log
    before = log.stat().st_size
    for body in (b"{bad", b'{"n": 999, "n": 1}', b"\xff\xfe", PADDED[:70_000]):
        status, _, _ = ask(default_server, body, "application/json")
        assert status == 400
    written = log.read_bytes()[before:].decode(errors="replace")
    assert "Traceback" not in written and "Failed json decoding" not in written
