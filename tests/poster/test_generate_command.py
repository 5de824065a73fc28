"""`lorecast generate` against the TorchServe stand-in (tests/poster/inference_standin.py), run in-process."""

from __future__ import annotations

import json
import re
import socket
import sys
from pathlib import Path

import pytest
from cli_harness import lorecast
from inference_standin import NO_WORKER, Answer

from lorecast.errors import InferenceError
from poster import inference
from poster.commands import generate_command

SCHEMA = json.loads((Path(__file__).parents[2] / "serve_handler" / "request_schema.json").read_text())
KEY_ENV = ("LORECAST_ENDPOINT", "LORECAST_INFERENCE_KEY", "LORECAST_KEY_FILE")


@pytest.fixture
def invoke(monkeypatch):
    """Run `lorecast generate ARGS...` with `env`; none of the LORECAST_* variables of the calling shell leak in."""
    for name in KEY_ENV:
        monkeypatch.delenv(name, raising=False)

    def run(*args: str, env: dict[str, str] | None = None):
        return lorecast("generate", *args, env=env)

    return run


def key_file(directory: Path, key: str) -> Path:
    path = directory / "key_file.json"
    path.write_text(json.dumps({"management": {"key": "mgmtKey9"}, "inference": {"key": key}}))
    return path


def everything_printed(result) -> str:
    return result.stdout + result.stderr + str(result.exception or "")


def test_prints_one_text_a_line_and_a_summary_on_stderr(standin, invoke):
    result = invoke("--endpoint", standin.endpoint, "--key", standin.key, "-n", 3, "--seed", "kernel",
                    "--rng-seed", 11)

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"kernel text {i} of run 11." for i in range(3)]
    assert "seed 'kernel'" in result.stderr
    assert "--rng-seed 11 repeats it" in result.stderr
    assert "12 candidates, none rejected" in result.stderr


def test_only_the_options_given_are_sent(standin, invoke):
    invoke("--endpoint", standin.endpoint, "--key", standin.key)
    invoke("--endpoint", standin.endpoint, "--key", standin.key, "--prompt", "the old")

    assert [request.json() for request in standin.received] == [{}, {"prompt": "the old"}]


def test_every_request_option_goes_to_its_field(standin, invoke):
    standin.key = None  # the stand-in checks only n, seed/prompt: the field names are what is tested here
    result = invoke(
        "--endpoint", standin.endpoint, "-n", 2, "--seed", "daemon", "--max-new-tokens", 30, "--temperature", 0.8,
        "--candidates", 3, "--min-novelty", 0.1, "--rng-seed", 5, "--mirostat", 4.5, "--mirostat-eta", 0.2,
    )
    invoke("--endpoint", standin.endpoint, "--top-k", 40, "--top-p", 0.9, "--typical-p", 0.95, "--mirostat", 2)

    assert result.exit_code == 0, result.output
    first, second = (request.json() for request in standin.received)
    assert first == {
        "n": 2, "seed": "daemon", "max_new_tokens": 30, "temperature": 0.8, "candidates": 3, "min_novelty": 0.1,
        "rng_seed": 5, "mirostat": {"tau": 4.5, "eta": 0.2},
    }
    assert second == {"top_k": 40, "top_p": 0.9, "typical_p": 0.95, "mirostat": {"tau": 2.0}}
    assert set(first) | set(second) <= set(SCHEMA["properties"])


def test_mirostat_eta_alone_is_a_usage_error(standin, invoke):
    result = invoke("--endpoint", standin.endpoint, "--mirostat-eta", 0.2)

    assert result.exit_code == 2
    assert "--mirostat-eta needs --mirostat TAU" in result.stderr
    assert standin.received == []


def test_a_mapped_seed_and_missing_texts_are_in_the_summary(standin, invoke):
    standin.survivors = 1
    result = invoke("--endpoint", standin.endpoint, "--key", standin.key, "-n", 2, "--seed", "wizzard",
                    "--candidates", 2)

    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 1
    assert "seed 'wizard' (asked for 'wizzard': mapped to the closest known word)" in result.stderr
    assert "rng_seed 4242 (--rng-seed 4242 repeats it)" in result.stderr  # the stand-in's "random" one
    assert "4 candidates, 3 rejected (novelty 3); 1 missing" in result.stderr


def test_json_prints_the_response_body_and_no_summary(standin, invoke):
    result = invoke("--endpoint", standin.endpoint, "--key", standin.key, "-n", 2, "--rng-seed", 3, "--json")

    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["rng_seed"] == 3
    assert [text["text"] for text in body["texts"]] == [f"{body['seed']} text {i} of run 3." for i in range(2)]
    assert result.stderr == ""


def test_endpoint_and_key_come_from_the_environment(standin, invoke):
    result = invoke("-n", 1, env={"LORECAST_ENDPOINT": standin.endpoint, "LORECAST_INFERENCE_KEY": standin.key})

    assert result.exit_code == 0, result.output
    assert standin.received[0].headers["authorization"] == f"Bearer {standin.key}"


def test_the_key_file_is_read_from_the_option_or_the_environment(standin, invoke, tmp_path):
    path = key_file(tmp_path, standin.key)
    by_option = invoke("--endpoint", standin.endpoint, "--key-file", path)
    by_env = invoke("--endpoint", standin.endpoint, env={"LORECAST_KEY_FILE": str(path)})

    assert (by_option.exit_code, by_env.exit_code) == (0, 0), by_option.output + by_env.output
    assert [r.headers["authorization"] for r in standin.received] == [f"Bearer {standin.key}"] * 2


def test_key_overrides_key_file(standin, invoke, tmp_path):
    result = invoke("--endpoint", standin.endpoint, "--key", standin.key,
                    "--key-file", key_file(tmp_path, "staleKey"))

    assert result.exit_code == 0, result.output
    assert standin.received[0].headers["authorization"] == f"Bearer {standin.key}"


# --- errors: one line, exit 1 through the CLI's LorecastError handling, and never the key ---------------------------

def test_a_refused_key_is_an_error_that_never_shows_the_key(standin, invoke, tmp_path):
    result = invoke("--endpoint", standin.endpoint, "--key-file", key_file(tmp_path, "oldKey77"))

    assert result.exit_code == 1
    assert isinstance(result.exception, InferenceError)
    assert "refused the inference key" in str(result.exception)
    assert "oldKey77" not in everything_printed(result)
    assert result.stdout == ""


def test_no_key_for_a_server_that_wants_one_says_how_to_get_it(standin, invoke):
    result = invoke("--endpoint", standin.endpoint)

    assert isinstance(result.exception, InferenceError)
    assert re.search(r"wants an inference key .*key_file\.json.*--key-file", str(result.exception))


def test_a_missing_key_file_is_an_error_naming_it(standin, invoke, tmp_path):
    result = invoke("--endpoint", standin.endpoint, "--key-file", tmp_path / "nope.json")

    assert isinstance(result.exception, InferenceError)
    assert str(result.exception).startswith(f"{tmp_path / 'nope.json'}: no such key file")
    assert standin.received == []


def test_a_bad_field_shows_the_servers_reason(standin, invoke):
    result = invoke("--endpoint", standin.endpoint, "--key", standin.key, "--seed", "kernel", "--prompt", "the")

    assert result.exit_code == 1
    assert str(result.exception) == "TorchServe refused the request: seed and prompt cannot both be given"


def test_an_unreachable_server_says_how_to_check_it(invoke, monkeypatch):
    monkeypatch.setattr(inference.time, "sleep", lambda seconds: None)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/predictions/lorecast"
    result = invoke("--endpoint", url, "--key", "k3yK3yK3y")

    assert result.exit_code == 1
    assert str(result.exception).startswith(f"TorchServe is not reachable at {url}: Connection refused")
    assert "`lorecast serve status`" in str(result.exception)
    assert "k3yK3yK3y" not in everything_printed(result)


def test_retries_then_success_through_the_command(standin, invoke, monkeypatch):
    monkeypatch.setattr(inference.time, "sleep", lambda seconds: None)
    standin.inject(Answer(503, NO_WORKER), times=2)
    result = invoke("--endpoint", standin.endpoint, "--key", standin.key, "-n", 1)

    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 1
    assert len(standin.received) == 3


def test_retry_exhaustion_through_the_command_keeps_the_key_out(standin, invoke, monkeypatch):
    monkeypatch.setattr(inference.time, "sleep", lambda seconds: None)
    standin.inject(Answer(503, {**NO_WORKER, "message": f"no worker (token {standin.key})"}), times=10)
    result = invoke("--endpoint", standin.endpoint, "--key", standin.key)

    assert result.exit_code == 1
    assert "answered HTTP 503 after 4 attempts" in str(result.exception)
    assert standin.key not in everything_printed(result)


def test_a_timeout_that_is_not_positive_is_a_usage_error(invoke):
    assert invoke("--timeout", 0).exit_code == 2


# --- --help ------------------------------------------------------------------------------------------------------

def test_help_explains_every_option_and_never_shows_the_key(invoke):
    result = invoke("--help", env={"LORECAST_INFERENCE_KEY": "helpKey42"})

    assert result.exit_code == 0
    for option in generate_command.params:
        assert option.help, f"{option.name} has no help"
    for name in ("LORECAST_ENDPOINT", "LORECAST_INFERENCE_KEY", "LORECAST_KEY_FILE", "key_file.json"):
        assert name in result.stdout
    assert "helpKey42" not in result.stdout


def test_the_server_defaults_named_in_help_are_the_schemas():
    """--help quotes defaults that the server owns: they must follow serve_handler/request_schema.json."""
    quoted = {}
    for option in generate_command.params:
        found = re.search(r"served default ([0-9.]+)", option.help or "")
        if found:
            field = option.name.replace("mirostat_eta", "eta")
            quoted[field] = float(found.group(1))
    properties = {**SCHEMA["properties"], **SCHEMA["properties"]["mirostat"]["properties"]}

    assert len(quoted) >= 8
    assert quoted == {field: properties[field]["default"] for field in quoted}


def test_without_requests_installed_the_command_says_which_extra_to_install(invoke, monkeypatch):
    monkeypatch.delitem(sys.modules, "poster.inference")
    monkeypatch.setitem(sys.modules, "requests", None)  # what an install without the poster extra sees
    result = invoke("-n", 1)

    assert result.exit_code == 1
    assert str(result.exception) == (
        "this command needs the poster extra (requests is missing): pip install 'lorecast[poster]'"
    )
