"""`lorecast k8s secret`: the printed Secrets validate as Kubernetes objects and carry exactly the platform's
variables from the .env file; errors are one line that names the file and the variables, never a value."""

from __future__ import annotations

import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from cli_harness import CliResult, lorecast
from kubernetes_validate.utils import all_versions

from lorecast.errors import LorecastError
from ops.k8s_check import parse, render

REPO = Path(__file__).resolve().parents[2]

TWITTER = {
    "LORECAST_TWITTER_CONSUMER_KEY": "tw-consumer-key-1a2b",
    "LORECAST_TWITTER_CONSUMER_SECRET": "tw-consumer: secret # not a comment",
    "LORECAST_TWITTER_ACCESS_TOKEN": "1234567890",  # digits only: must stay a string in YAML
    "LORECAST_TWITTER_ACCESS_SECRET": "tw-access-secret-9z8y",
}
TUMBLR = {
    "LORECAST_TUMBLR_CONSUMER_KEY": "tb-consumer-key-3c4d",
    "LORECAST_TUMBLR_CONSUMER_SECRET": "tb-consumer-secret-5e6f",
    "LORECAST_TUMBLR_ACCESS_TOKEN": "tb-access-token-7g8h",
    "LORECAST_TUMBLR_ACCESS_SECRET": "tb-access-secret-9i0j",
}
TUMBLR_SETTINGS = {"LORECAST_TUMBLR_BLOG": "mybot.tumblr.com", "LORECAST_TUMBLR_TAGS": "bot,lore"}
# In the file, but not a credential or an account setting: stays out of every Secret.
OTHERS = {"LORECAST_TWITTER_API_URL": "http://127.0.0.1:9/", "LORECAST_ENDPOINT": "http://x:8080/predictions/y"}


def _env_file(tmp_path: Path, values: dict[str, str]) -> Path:
    path = tmp_path / ".env"
    path.write_text("# credentials\n" + "".join(f"{name}='{value}'\n" for name, value in values.items()),
                    encoding="utf-8")
    return path


def _run(*arguments: str) -> CliResult:
    return lorecast("k8s", "secret", *arguments)


def _secrets(result: CliResult) -> list[dict]:
    assert result.exit_code == 0, (result.output, result.exception)
    assert result.stdout.startswith("---\n")
    return list(yaml.safe_load_all(result.stdout))


def _assert_no_value(text: str, values: dict[str, str]) -> None:
    for value in values.values():
        assert value not in text


def test_every_platform_in_the_file_gets_a_secret_that_validates(tmp_path: Path) -> None:
    path = _env_file(tmp_path, {**TWITTER, **TUMBLR, **TUMBLR_SETTINGS, **OTHERS})
    result = _run("--from-env", str(path))
    secrets = _secrets(result)

    assert [secret["metadata"]["name"] for secret in secrets] == ["lorecast-twitter", "lorecast-tumblr"]
    assert secrets[0]["stringData"] == TWITTER
    assert secrets[1]["stringData"] == {**TUMBLR, **TUMBLR_SETTINGS}
    versions = all_versions()
    for secret in secrets:
        assert secret["type"] == "Opaque" and secret["metadata"]["namespace"] == "lorecast"  # k8s/base's
        for version in (versions[0], versions[-1]):
            kubernetes_validate.validate(secret, version, strict=True)
    _assert_no_value(result.stderr, {**TWITTER, **TUMBLR})


def test_one_platform_with_a_name_and_a_namespace(tmp_path: Path) -> None:
    path = _env_file(tmp_path, {**TWITTER, **TUMBLR})
    [secret] = _secrets(_run("--from-env", str(path), "--platform", "tumblr", "--name", "bot-keys",
                             "--namespace", "bots"))
    assert secret["metadata"]["name"] == "bot-keys"
    assert secret["metadata"]["namespace"] == "bots"
    assert secret["stringData"] == TUMBLR  # no blog or tags in the file: none in the Secret


def test_the_secrets_are_the_ones_the_cronjobs_of_k8s_load(tmp_path: Path) -> None:
    cronjobs, _ = parse(render(REPO / "k8s" / "overlays" / "cpu"))
    loaded = {(cronjob["metadata"]["namespace"], source["secretRef"]["name"])
              for cronjob in cronjobs if cronjob["kind"] == "CronJob"
              for container in cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
              for source in container.get("envFrom", []) if "secretRef" in source}
    printed = _secrets(_run("--from-env", str(_env_file(tmp_path, {**TWITTER, **TUMBLR}))))
    assert loaded == {(secret["metadata"]["namespace"], secret["metadata"]["name"]) for secret in printed}


def test_platforms_without_credentials_in_the_file_are_left_out(tmp_path: Path) -> None:
    path = _env_file(tmp_path, {**TUMBLR, **OTHERS})
    assert [secret["metadata"]["name"] for secret in _secrets(_run("--from-env", str(path)))] == ["lorecast-tumblr"]


def _error(result: CliResult) -> str:
    assert isinstance(result.exception, LorecastError), (result.output, result.exception)
    assert result.stdout == ""
    message = str(result.exception)
    assert "\n" not in message
    return message


def test_through_lorecast_values_reach_stdout_only(tmp_path: Path) -> None:
    # A process of its own: nothing written to file descriptor 2 by any means may carry a value.
    done = lorecast("k8s", "secret", "--from-env", _env_file(tmp_path, TWITTER), cwd=tmp_path, process=True)
    assert done.exit_code == 0 and done.stderr == ""
    assert all(value in done.stdout for value in TWITTER.values())

    incomplete = {**TWITTER, "LORECAST_TWITTER_ACCESS_SECRET": ""}
    done = lorecast("k8s", "secret", "--from-env", _env_file(tmp_path, incomplete), cwd=tmp_path, process=True)
    assert done.exit_code == 1 and done.stdout == ""
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
    _assert_no_value(done.stderr, TWITTER)


def test_a_missing_credential_is_named_and_no_value_is_shown(tmp_path: Path) -> None:
    values = {name: value for name, value in TWITTER.items() if name != "LORECAST_TWITTER_ACCESS_SECRET"}
    path = _env_file(tmp_path, values)
    result = _run("--from-env", str(path))
    message = _error(result)
    assert message.startswith(f"{path}: twitter: missing LORECAST_TWITTER_ACCESS_SECRET ")
    _assert_no_value(message + result.output, values)


def test_an_empty_credential_counts_as_missing(tmp_path: Path) -> None:
    path = _env_file(tmp_path, {**TWITTER, "LORECAST_TWITTER_CONSUMER_KEY": ""})
    assert "missing LORECAST_TWITTER_CONSUMER_KEY " in _error(_run("--from-env", str(path)))


def test_a_platform_asked_for_but_not_in_the_file(tmp_path: Path) -> None:
    path = _env_file(tmp_path, TWITTER)
    message = _error(_run("--from-env", str(path), "--platform", "tumblr"))
    assert message == f"{path}: no LORECAST_TUMBLR_… credentials for tumblr"


def test_a_file_without_any_credentials(tmp_path: Path) -> None:
    path = _env_file(tmp_path, OTHERS)
    assert _error(_run("--from-env", str(path))) == (
        f"{path}: no LORECAST_TWITTER_… or LORECAST_TUMBLR_… credentials")


def test_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.env"
    assert _error(_run("--from-env", str(path))) == f"{path}: no such file"


def test_a_malformed_line_names_the_file_and_line_but_not_its_text(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("LORECAST_TWITTER_CONSUMER_KEY=abc\nsecret-looking garbage\n", encoding="utf-8")
    message = _error(_run("--from-env", str(path)))
    assert message == f"{path}:2: not a NAME=value line"


def test_name_needs_a_single_secret(tmp_path: Path) -> None:
    result = _run("--from-env", str(_env_file(tmp_path, {**TWITTER, **TUMBLR})), "--name", "keys")
    assert result.exit_code == 2
    assert "--name names one Secret, but the output holds 2 (twitter, tumblr)" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("option, value", [("--name", "Bad_Name"), ("--namespace", "has.dots")])
def test_names_kubernetes_would_refuse_are_usage_errors(tmp_path: Path, option: str, value: str) -> None:
    result = _run("--from-env", str(_env_file(tmp_path, TWITTER)), option, value)
    assert result.exit_code == 2
    assert f"{value!r} is not a valid" in result.stderr


def test_without_the_k8s_extra_the_error_says_what_to_install(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "kubernetes", None)  # None in sys.modules: as if it were not installed
    message = _error(_run("--from-env", str(_env_file(tmp_path, TWITTER))))
    assert message == "this command needs the k8s extra (kubernetes missing): pip install 'lorecast[k8s]'"
