"""The handler inside a real TorchServe (see conftest.py): contract 5 over HTTP, batching, per-request 400s,
reproducibility, token auth and metrics."""

from __future__ import annotations

import threading
import urllib.request

import pytest
from cli_harness import lorecast
from jsonschema import Draft202012Validator
from serving_setup import BATCH_SIZE, MODEL, post

from serve_handler.request import ERROR_SCHEMA, RESPONSE_SCHEMA

RESPONSE, ERROR = Draft202012Validator(RESPONSE_SCHEMA), Draft202012Validator(ERROR_SCHEMA)


def check_answer(status, body) -> None:
    """A handler's answer follows response_schema.json: the 200 body, or the 400 body of $defs/error."""
    assert status in (200, 400), (status, body)
    (RESPONSE if status == 200 else ERROR).validate(body)


@pytest.fixture
def predict(predict):
    """The session's predict, checking every answer of the handler against the response schema on the way. With
    `key=` given the answer may be TorchServe's own (a refused key), which the handler's schema does not cover."""

    def call(body, **options):
        status, answer, headers = predict(body, **options)
        if "key" not in options:
            check_answer(status, answer)
        return status, answer, headers

    return call


def concurrently(predict, bodies):
    """Send every body at the same instant, one thread each; the answers in the bodies' order."""
    answers = [None] * len(bodies)
    barrier = threading.Barrier(len(bodies))

    def send(index):
        barrier.wait()
        answers[index] = predict(bodies[index])

    threads = [threading.Thread(target=send, args=(index,)) for index in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_generations_come_back_as_json(predict):
    status, body, headers = predict({"n": 2, "rng_seed": 1, "min_novelty": 0})
    assert status == 200, body
    assert headers["Content-Type"].startswith("application/json")
    assert 1 <= len(body["texts"]) <= 2 and body["missing"] == 2 - len(body["texts"])
    assert body["rng_seed"] == 1 and body["ranked_by"] == "logprob"
    for text in body["texts"]:
        assert text["text"].startswith(body["seed"])
        assert 0 <= text["novelty"] <= 1


def test_concurrent_requests_are_batched_and_a_bad_one_gets_400_alone(predict):
    # Three good requests and one with an unknown field, sent together; TorchServe may split them, so try again.
    for _ in range(3):
        bodies = [{"n": 1, "rng_seed": index, "min_novelty": 0} for index in range(3)] + [{"n": 1, "colour": 1}]
        answers = concurrently(predict, bodies)
        statuses = [status for status, _, _ in answers]
        assert statuses == [200, 200, 200, 400], answers
        assert "colour" in answers[3][1]["error"]
        batch_sizes = [body["batch_size"] for _, body, _ in answers[:3]]
        if max(batch_sizes) == 4:  # the bad request was in the same batch as the good ones
            break
    assert 1 < max(batch_sizes) <= BATCH_SIZE
    assert max(batch_sizes) == 4


def test_the_same_rng_seed_gives_the_same_texts(predict):
    request = {"n": 3, "rng_seed": 1234, "temperature": 1.3, "top_k": 40}
    _, first, _ = predict(request)
    # Once more inside a batch with other requests.
    answers = concurrently(predict, [request, {"n": 2, "rng_seed": 5}, {"n": 1}])
    assert answers[0][0] == 200
    assert answers[0][1]["texts"] == first["texts"] and answers[0][1]["seed"] == first["seed"]
    _, other, _ = predict({**request, "rng_seed": 4321})
    assert other["texts"] != first["texts"]


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        ("{bad", "application/json", "JSON"),
        ("", "application/json", "empty"),
        ('{"n": 1e999}', "application/json", "n"),
        ('{"n": 1}', "text/plain", "Content-Type"),
        ('{"n": 1}', None, "Content-Type"),
        ('{"n": 1, "seed": "kernel", "prompt": "the"}', "application/json", "seed"),
        ('{"n": 99}', "application/json", "n"),
        ('[1, 2]', "application/json", "object"),
    ],
)
def test_malformed_requests_get_400_with_a_message(predict, body, content_type, message):
    status, answer, headers = predict(body, content_type=content_type)
    assert status == 400, answer
    assert message.lower() in answer["error"].lower()
    assert headers["Content-Type"].startswith("application/json")


def test_a_request_without_the_key_or_with_a_wrong_one_is_refused(predict):
    for key in (None, "wrong-key"):
        status, answer, _ = predict({"n": 1}, key=key)
        assert status == 400 and answer["type"] == "InvalidKeyException"


def test_an_unknown_seed_is_mapped_and_reported(predict):
    status, body, _ = predict({"n": 1, "seed": "kernal", "rng_seed": 2, "min_novelty": 0})
    assert status == 200
    assert (body["seed"], body["seed_requested"]) == ("kernel", "kernal")


def test_the_blocklist_inside_the_archive_is_applied(predict):
    # The archive's blocklist holds "wizard" (whole words only): every text from this prompt holds it.
    status, body, _ = predict({"n": 2, "prompt": "the wizard,", "rng_seed": 3, "min_novelty": 0})
    assert status == 200
    assert body["texts"] == [] and body["missing"] == 2
    assert body["rejected"]["blocklist"] > 0
    assert sum(body["rejected"].values()) == body["candidates"] == 8


def test_custom_metrics_reach_prometheus(server, predict):
    predict({"n": 1, "rng_seed": 8})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{server.metrics_url}/metrics", timeout=10) as response:  # no key needed
        text = response.read().decode()
    for name in ("LorecastCandidates", "LorecastBatchSize", "LorecastRejected", "LorecastBadRequests"):
        assert f'{name}{{' in text, name
    assert 'Reason="novelty"' in text
    assert f'ModelName="{MODEL}"' in text


def test_lorecast_generate_prints_the_texts(server):
    code, out, err = lorecast(
        "generate", "--endpoint", server.predictions_url(MODEL), "--key-file", str(server.key_file),
        "-n", "2", "--rng-seed", "11", "--min-novelty", "0",
    )
    assert code == 0, err
    request = {"n": 2, "rng_seed": 11, "min_novelty": 0}
    status, body, _ = post(server.predictions_url(MODEL), request, server.inference_key)
    check_answer(status, body)
    assert out.splitlines() == [text["text"] for text in body["texts"]]
    assert "11" in err and server.inference_key not in out + err


def test_a_mention_is_answered_from_a_word_of_it_and_a_blocked_one_refused(predict):
    # The archive's corpus has no conversation tags: the answer starts from the rarest known word said.
    status, body, _ = predict({"n": 2, "reply_to": "@bot what about kernals?", "rng_seed": 4, "min_novelty": 0})
    assert status == 200, body
    assert body["reply"] == {"mode": "seed", "said": "kernals", "seed": "kernel", "refused": None}
    assert body["texts"] and all(text["text"].startswith("kernel") for text in body["texts"])
    status, body, _ = predict({"n": 2, "reply_to": "you old wizard", "rng_seed": 4})
    assert status == 200 and body["reply"]["refused"] == "blocklist"
    assert (body["texts"], body["candidates"]) == ([], 0)
    status, body, _ = predict({"reply_to": "hi", "seed": "kernel"})
    assert status == 400 and body == {"error": "seed: not allowed together with reply_to"}
