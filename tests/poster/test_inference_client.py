"""The inference API client against the TorchServe stand-in (tests/poster/inference_standin.py)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from dataclasses import fields

import pytest
from inference_standin import NO_WORKER, Answer, Delay, Drop, StandIn

from lorecast.errors import InferenceError
from poster import inference
from poster.inference import GeneratedText, Generation, InferenceClient, read_key_file
from serve_handler.request import RESPONSE_SCHEMA

FAST = {"backoff": 0.001}  # retries stay, pauses shrink


def client_for(standin: StandIn, **options) -> InferenceClient:
    return InferenceClient(standin.endpoint, **{"key": standin.key, **FAST, **options})


def valid_body(**changes) -> dict:
    body = {
        "texts": [{"text": "the kernel sleeps.", "seed": "kernel", "score": -1.5, "logprob": -1.5, "novelty": 0.4,
                   "exploratory": False}],
        "seed": "kernel", "seed_requested": None, "prompt": None, "rng_seed": 7, "ranked_by": "logprob",
        "candidates": 4, "rejected": {"length": 3}, "missing": 0, "batch_size": 2,
    }
    return {**body, **changes}


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- success -----------------------------------------------------------------------------------------------------

def test_generate_sends_the_given_fields_as_json_with_the_bearer_key(standin):
    generation = client_for(standin).generate(n=2, seed="kernel", rng_seed=9, mirostat={"tau": 3.0})

    (request,) = standin.received
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == f"Bearer {standin.key}"
    assert request.json() == {"n": 2, "seed": "kernel", "rng_seed": 9, "mirostat": {"tau": 3.0}}
    assert [text.text for text in generation.texts] == ["kernel text 0 of run 9.", "kernel text 1 of run 9."]
    assert generation.texts[0].score > generation.texts[1].score
    assert (generation.seed, generation.seed_requested, generation.rng_seed) == ("kernel", "kernel", 9)
    assert not generation.seed_was_mapped
    assert generation.candidates == 8 and generation.missing == 0 and generation.batch_size == 1
    assert generation.raw == json.loads(json.dumps(generation.raw))  # the body as received, JSON all through


def test_fields_left_out_or_none_are_not_sent(standin):
    client_for(standin).generate()
    client_for(standin).generate(n=None, seed=None, temperature=0.7)

    assert [request.json() for request in standin.received] == [{}, {"temperature": 0.7}]


def test_a_mapped_seed_word_is_reported(standin):
    generation = client_for(standin).generate(seed="kernal")

    assert (generation.seed, generation.seed_requested) == ("kernel", "kernal")
    assert generation.seed_was_mapped


def test_too_few_survivors_show_as_missing(standin):
    standin.survivors = 1
    generation = client_for(standin).generate(n=3)

    assert len(generation.texts) == 1
    assert generation.missing == 2
    assert generation.rejected["novelty"] == 3 * 4 - 1


def test_extra_response_fields_are_tolerated_and_kept_in_raw(standin):
    body = valid_body(future_field={"a": 1})
    body["texts"][0]["future_text_field"] = True
    standin.inject(Answer(200, body))

    generation = client_for(standin).generate()

    assert generation.texts[0].text == "the kernel sleeps."
    assert generation.rejected == {"length": 3}
    assert generation.raw["future_field"] == {"a": 1}


def test_without_a_key_no_authorization_header_is_sent():
    with StandIn(key=None) as open_standin:
        generation = InferenceClient(open_standin.endpoint, **FAST).generate(n=1)

    assert "authorization" not in open_standin.received[0].headers
    assert len(generation.texts) == 1


# --- errors from the server ----------------------------------------------------------------------------------------

def test_a_bad_field_raises_the_servers_one_line_reason_without_retrying(standin):
    reason = "n must be an integer from 1 to 16, got 0"
    with pytest.raises(InferenceError, match=f"^TorchServe refused the request: {reason}$"):
        client_for(standin).generate(n=0)
    assert len(standin.received) == 1


def test_a_refused_key_says_so_and_where_to_get_one(standin):
    client = InferenceClient(standin.endpoint, key="wrongKey", **FAST)
    with pytest.raises(InferenceError) as caught:
        client.generate()
    message = str(caught.value)
    assert "refused the inference key" in message
    assert "key_file.json" in message and "--key-file" in message
    assert "wrongKey" not in message
    assert len(standin.received) == 1  # a 400 is not retried


def test_a_missing_key_says_one_is_needed(standin):
    with pytest.raises(InferenceError, match="wants an inference key and none was given.*key_file.json"):
        InferenceClient(standin.endpoint, **FAST).generate()


@pytest.mark.parametrize("status", [500, 404])
def test_other_statuses_fail_at_once_with_torchserves_message(standin, status):
    standin.inject(Answer(status, {"code": status, "type": "SomeException", "message": "Prediction failed"}))
    with pytest.raises(InferenceError, match=f"answered HTTP {status}: Prediction failed$"):
        client_for(standin).generate()
    assert len(standin.received) == 1


def test_a_non_json_error_body_is_quoted_short_and_on_one_line(standin):
    standin.inject(Answer(500, "<html>\n<body>" + "proxy error " * 100 + "</body></html>"))
    with pytest.raises(InferenceError) as caught:
        client_for(standin).generate()
    message = str(caught.value)
    assert "answered HTTP 500: '<html>" in message
    assert "\n" not in message and len(message) <= 300


# --- retries -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("status", [502, 503, 504])
def test_busy_statuses_are_retried_until_an_answer_comes(standin, status):
    standin.inject(Answer(status, NO_WORKER), times=2)
    generation = client_for(standin, retries=3).generate(n=1)

    assert len(standin.received) == 3
    assert len(generation.texts) == 1


def test_retries_wait_longer_each_time(standin, monkeypatch):
    pauses = []
    monkeypatch.setattr(inference.time, "sleep", pauses.append)
    standin.inject(Answer(503, NO_WORKER), times=3)

    client_for(standin, retries=3, backoff=0.5).generate()

    assert pauses == [0.5, 1.0, 2.0]


def test_exhausted_retries_name_the_status_the_attempts_and_the_reason(standin):
    standin.inject(Answer(503, NO_WORKER), times=10)
    with pytest.raises(InferenceError, match=r"answered HTTP 503 after 3 attempts: Model \"lorecast\" has no worker"):
        client_for(standin, retries=2).generate()
    assert len(standin.received) == 3


def test_a_dropped_connection_is_retried(standin):
    standin.inject(Drop())
    generation = client_for(standin).generate(n=2)

    assert len(standin.received) == 2
    assert len(generation.texts) == 2


def test_a_connection_dropped_every_time_fails_after_the_retries(standin):
    standin.inject(Drop(), times=10)
    with pytest.raises(InferenceError, match="closed the connection without answering after 2 attempts$"):
        client_for(standin, retries=1).generate()
    assert len(standin.received) == 2


def test_no_server_says_it_is_not_reachable_and_how_to_check(monkeypatch):
    pauses = []
    monkeypatch.setattr(inference.time, "sleep", pauses.append)
    url = f"http://127.0.0.1:{closed_port()}/predictions/lorecast"
    with pytest.raises(InferenceError) as caught:
        InferenceClient(url, key="abc", retries=2).generate()
    assert str(caught.value) == (
        f"TorchServe is not reachable at {url}: Connection refused after 3 attempts "
        "(is it running? `lorecast serve status`)"
    )
    assert len(pauses) == 2


def test_a_slow_answer_times_out_without_retrying(standin):
    standin.inject(Delay(5))
    with pytest.raises(InferenceError, match=r"did not answer within 0.2 s$"):
        client_for(standin, timeout=0.2).generate()
    assert len(standin.received) == 1


def test_a_late_answer_within_the_timeout_arrives(standin):
    standin.inject(Delay(0.1))
    assert len(client_for(standin, timeout=5).generate(n=1).texts) == 1


# --- the response schema -----------------------------------------------------------------------------------------

def test_the_generation_holds_every_field_of_the_response_schema():
    texts = RESPONSE_SCHEMA["properties"]["texts"]["items"]["properties"]
    assert {field.name for field in fields(GeneratedText)} == set(texts)
    assert {field.name for field in fields(Generation)} - {"raw"} == set(RESPONSE_SCHEMA["properties"])


def test_what_the_schema_allows_is_read_as_the_dataclasses_type(standin):
    body = valid_body(rng_seed=7.0, candidates=4.0)  # JSON Schema: 7.0 is an integer
    body["texts"][0].update(novelty=None, score=1)
    standin.inject(Answer(200, body))

    generation = client_for(standin).generate()

    assert type(generation.rng_seed) is int and type(generation.candidates) is int
    assert generation.texts[0].novelty is None and type(generation.texts[0].score) is float


def test_the_standin_refuses_to_send_what_the_real_handler_could_not():
    # The stand-in validates requests only lightly: a negative rng_seed gets through, and its echo in the answer
    # would break the response schema.
    standin = StandIn()
    with pytest.raises(AssertionError, match="could not send"):
        with standin:
            with pytest.raises(InferenceError, match="HTTP 500"):
                client_for(standin).generate(rng_seed=-1)


# --- malformed 200 bodies ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("not json at all", "not JSON"),
        ("", "not JSON (an empty body)"),
        ([1, 2], "the body is an array, not an object"),
        ({"predictions": ["a"]}, '"texts" is missing'),
        (valid_body(texts="one text"), '"texts" is a string, not an array'),
        (valid_body(texts=["a text"]), '"texts[0]" is a string, not an object'),
        (valid_body(texts=[{"text": "a", "seed": None, "score": "high", "logprob": -1, "novelty": 0.5}]),
         '"texts[0].score" is a string, not a number'),
        (valid_body(texts=[{"text": "a", "seed": None, "score": 1, "logprob": -1}]), '"texts[0].novelty" is missing'),
        (valid_body(texts=[{"text": "a", "seed": None, "score": 1, "logprob": -1, "novelty": 0.5,
                            "exploratory": "no"}]), '"texts[0].exploratory" is a string, not a boolean'),
        (valid_body(rng_seed=True), '"rng_seed" is a boolean, not an integer'),
        (valid_body(seed=3), '"seed" is an integer, not a string or null'),
        (valid_body(rejected={"length": 1.5}), '"rejected.length" is a number, not an integer'),
        (valid_body(missing=-1), '"missing": -1 is less than the minimum of 0'),
        (valid_body(ranked_by="magic"), '"ranked_by": \'magic\' is not one of'),
        ({k: v for k, v in valid_body().items() if k != "batch_size"}, '"batch_size" is missing'),
    ],
)
def test_a_200_that_breaks_the_contract_is_a_clear_error(standin, body, problem):
    standin.inject(Answer(200, body))
    with pytest.raises(InferenceError) as caught:
        client_for(standin).generate()
    assert problem in str(caught.value)
    assert standin.endpoint in str(caught.value)


# --- the key never shows -------------------------------------------------------------------------------------------

def test_a_key_echoed_by_the_server_is_blotted_out(standin):
    standin.inject(Answer(400, {"error": f"field n: bad, and your header was Bearer {standin.key}"}))
    with pytest.raises(InferenceError) as caught:
        client_for(standin).generate()
    assert standin.key not in str(caught.value)
    assert "Bearer [key]" in str(caught.value)


def test_the_key_is_not_in_the_clients_repr(standin):
    client = client_for(standin)
    assert standin.key not in repr(client) and standin.endpoint in repr(client)


@pytest.mark.parametrize("key", ["two words", "tab\tkey", "line\nbreak", "", "   ", "ключ"])
def test_a_key_that_cannot_go_in_a_header_is_refused_without_showing_it(standin, key):
    with pytest.raises(InferenceError, match="the inference key is empty or holds") as caught:
        InferenceClient(standin.endpoint, key=key)
    assert not key.strip() or key not in str(caught.value)
    assert standin.received == []


def test_surrounding_whitespace_of_a_key_is_dropped(standin):
    client_for(standin, key=f"  {standin.key}\n").generate()
    assert standin.received[0].headers["authorization"] == f"Bearer {standin.key}"


# --- the request side ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "endpoint", ["127.0.0.1:8080/predictions/lorecast", "ftp://host/x", "http:///nohost", "http://[::1/x"]
)
def test_an_endpoint_that_is_no_http_url_is_refused(endpoint):
    with pytest.raises(InferenceError, match="is not an http\\(s\\) URL"):
        InferenceClient(endpoint)


def test_nan_is_refused_before_sending_naming_the_field(standin):
    with pytest.raises(InferenceError, match="^request field temperature: NaN and infinity cannot be sent as JSON$"):
        client_for(standin).generate(temperature=float("nan"), top_k=5)
    assert standin.received == []


def test_one_client_keeps_its_connection_open_between_requests(standin):
    with client_for(standin) as client:
        client.generate()
        client.generate()
    first, second = standin.received
    assert first.client_port == second.client_port


# --- key_file.json -------------------------------------------------------------------------------------------------

def test_read_key_file_returns_the_inference_key(tmp_path):
    path = tmp_path / "key_file.json"
    path.write_text(json.dumps({
        "management": {"key": "mgmtKey1", "expiration time": "2026-11-21T07:57:59.325769294Z"},
        "inference": {"key": "infKey12", "expiration time": "2026-11-21T07:57:59.325760251Z"},
        "API": {"key": "apiKey12"},
    }))
    assert read_key_file(path) == "infKey12"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "no such key file (TorchServe writes a new one at every start to key_file.json"),
        ('{"inference": {"key": "secretKy"', ":1: not JSON ("),
        ('{"management": {"key": "secretKy"}}', "no inference key in it"),
        ('{"inference": "secretKy"}', "no inference key in it"),
        ('{"inference": {"key": ""}}', "no inference key in it"),
        ('["secretKy"]', "no inference key in it"),
    ],
)
def test_a_missing_or_bad_key_file_is_a_clear_error_without_its_content(tmp_path, content, problem):
    path = tmp_path / "key_file.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(InferenceError) as caught:
        read_key_file(path)
    assert str(caught.value).startswith(str(path))
    assert problem in str(caught.value)
    assert "secretKy" not in str(caught.value)


def test_a_directory_as_key_file_is_a_clear_error(tmp_path):
    with pytest.raises(InferenceError, match="cannot read the key file: Is a directory"):
        read_key_file(tmp_path)


# --- the slim poster image -----------------------------------------------------------------------------------------

def test_the_client_and_command_import_neither_torch_nor_transformers():
    code = (
        "import sys\n"
        "import poster.commands.generate\n"
        "print('requests' in sys.modules)\n"  # the command imports it when it runs, not on `lorecast --help`
        "import poster.inference\n"
        "print(sorted(m for m in ('torch', 'transformers', 'serve_handler', 'trainer') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split("\n")[:2] == ["False", "[]"]


# --- replies -------------------------------------------------------------------------------------------------------

def test_a_reply_request_reports_how_it_was_conditioned(standin):
    generation = client_for(standin).generate(n=1, reply_to="@bot what is a daemon?", rng_seed=3)
    assert standin.received[-1].json()["reply_to"] == "@bot what is a daemon?"
    assert generation.reply == inference.ReplyConditioning(mode="seed", said="daemon", seed="daemon", refused=None)
    assert generation.texts[0].text.startswith("daemon")


def test_a_refused_mention_has_no_texts_and_says_why(standin):
    standin.refused_words = {"idiot"}
    generation = client_for(standin).generate(n=2, reply_to="you idiot")
    assert generation.texts == [] and generation.reply.refused == "blocklist" and generation.missing == 2


def test_a_worker_of_an_earlier_release_without_reply_is_read(standin):
    body = valid_body()
    assert "reply" not in body  # as a worker before replies answers
    standin.inject(Answer(200, body))
    assert client_for(standin).generate().reply is None
