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
    "LORECAST_TUMBLR_BLOG": "mybot.tumblr.com",  # required too: a Tumblr run cannot post without its blog
}
TUMBLR_SETTINGS = {"LORECAST_TUMBLR_TAGS": "bot,lore"}
MASTODON = {
    "LORECAST_MASTODON_INSTANCE": "https://mastodon.example",
    "LORECAST_MASTODON_ACCESS_TOKEN": "md-access-token-1k2l",
}
MASTODON_SETTINGS = {"LORECAST_MASTODON_VISIBILITY": "unlisted"}
# What `lorecast auth mastodon` also prints: the app's keys, which only get the token. Never in the Secret.
MASTODON_APP = {"LORECAST_MASTODON_CLIENT_ID": "md-client-id-3m4n", "LORECAST_MASTODON_CLIENT_SECRET": "md-client-5o6p"}
BLUESKY = {"LORECAST_BLUESKY_HANDLE": "lorebot.bsky.social", "LORECAST_BLUESKY_APP_PASSWORD": "abcd-efgh-ijkl-mnop"}
BLUESKY_SETTINGS = {"LORECAST_BLUESKY_SERVICE": "https://pds.example"}
ALL = {**TWITTER, **TUMBLR, **MASTODON, **BLUESKY}
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
        assert not value or value not in text  # an empty value is in every text: nothing to leak


def test_every_platform_in_the_file_gets_a_secret_that_validates(tmp_path: Path) -> None:
    path = _env_file(tmp_path, {**ALL, **TUMBLR_SETTINGS, **MASTODON_SETTINGS, **MASTODON_APP, **BLUESKY_SETTINGS,
                                **OTHERS})
    result = _run("--from-env", str(path))
    secrets = _secrets(result)

    assert [secret["metadata"]["name"] for secret in secrets] == [
        "lorecast-twitter", "lorecast-tumblr", "lorecast-mastodon", "lorecast-bluesky"]
    assert secrets[0]["stringData"] == TWITTER
    assert secrets[1]["stringData"] == {**TUMBLR, **TUMBLR_SETTINGS}
    assert secrets[2]["stringData"] == {**MASTODON, **MASTODON_SETTINGS}  # no client id or secret
    assert secrets[3]["stringData"] == {**BLUESKY, **BLUESKY_SETTINGS}
    _assert_no_value(result.stdout, MASTODON_APP)
    versions = all_versions()
    for secret in secrets:
        assert secret["type"] == "Opaque" and secret["metadata"]["namespace"] == "lorecast"  # k8s/base's
        for version in (versions[0], versions[-1]):
            kubernetes_validate.validate(secret, version, strict=True)
    _assert_no_value(result.stderr, ALL)


def test_one_platform_with_a_name_and_a_namespace(tmp_path: Path) -> None:
    path = _env_file(tmp_path, {**TWITTER, **TUMBLR})
    [secret] = _secrets(_run("--from-env", str(path), "--platform", "tumblr", "--name", "bot-keys",
                             "--namespace", "bots"))
    assert secret["metadata"]["name"] == "bot-keys"
    assert secret["metadata"]["namespace"] == "bots"
    assert secret["stringData"] == TUMBLR  # no tags in the file: none in the Secret


def test_the_secrets_are_the_ones_the_cronjobs_of_k8s_load(tmp_path: Path) -> None:
    cronjobs, _ = parse(render(REPO / "k8s" / "overlays" / "cpu"))
    loaded = {(cronjob["metadata"]["namespace"], source["secretRef"]["name"])
              for cronjob in cronjobs if cronjob["kind"] == "CronJob"
              for container in cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
              for source in container.get("envFrom", []) if "secretRef" in source}
    printed = _secrets(_run("--from-env", str(_env_file(tmp_path, ALL))))
    assert loaded == {(secret["metadata"]["namespace"], secret["metadata"]["name"]) for secret in printed}


def test_platforms_without_credentials_in_the_file_are_left_out(tmp_path: Path) -> None:
    path = _env_file(tmp_path, {**TUMBLR, **OTHERS})
    assert [secret["metadata"]["name"] for secret in _secrets(_run("--from-env", str(path)))] == ["lorecast-tumblr"]


def test_the_default_picks_up_mastodon_and_bluesky(tmp_path: Path) -> None:
    # Only the new platforms' required variables (the app's keys and no settings): their Secrets, nothing more.
    path = _env_file(tmp_path, {**BLUESKY, **MASTODON, **MASTODON_APP, **OTHERS})
    secrets = _secrets(_run("--from-env", str(path)))
    assert [(secret["metadata"]["name"], secret["stringData"]) for secret in secrets] == [
        ("lorecast-mastodon", MASTODON), ("lorecast-bluesky", BLUESKY)]


@pytest.mark.parametrize("platform, values", [("mastodon", MASTODON), ("bluesky", BLUESKY)])
def test_one_new_platform_asked_for(tmp_path: Path, platform: str, values: dict[str, str]) -> None:
    path = _env_file(tmp_path, ALL)
    [secret] = _secrets(_run("--from-env", str(path), "--platform", platform, "--namespace", "bots"))
    assert secret["metadata"] == {"name": f"lorecast-{platform}", "namespace": "bots",
                                  "labels": {"app.kubernetes.io/name": "lorecast",
                                             "app.kubernetes.io/component": "poster"}}
    assert secret["stringData"] == values


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


@pytest.mark.parametrize("present, missing, hint", [
    ({**MASTODON_APP, "LORECAST_MASTODON_INSTANCE": MASTODON["LORECAST_MASTODON_INSTANCE"]},
     "mastodon: missing LORECAST_MASTODON_ACCESS_TOKEN", "`lorecast auth mastodon` prints the access token"),
    ({**MASTODON_SETTINGS, "LORECAST_MASTODON_ACCESS_TOKEN": MASTODON["LORECAST_MASTODON_ACCESS_TOKEN"]},
     "mastodon: missing LORECAST_MASTODON_INSTANCE", "`lorecast auth mastodon` prints the access token"),
    ({**BLUESKY_SETTINGS, "LORECAST_BLUESKY_HANDLE": BLUESKY["LORECAST_BLUESKY_HANDLE"],
      "LORECAST_BLUESKY_APP_PASSWORD": ""},
     "bluesky: missing LORECAST_BLUESKY_APP_PASSWORD", "`lorecast auth bluesky` prints them, for an app password"),
    ({"LORECAST_BLUESKY_APP_PASSWORD": BLUESKY["LORECAST_BLUESKY_APP_PASSWORD"]},
     "bluesky: missing LORECAST_BLUESKY_HANDLE", "`lorecast auth bluesky` prints them, for an app password"),
], ids=["mastodon-token", "mastodon-instance", "bluesky-empty-password", "bluesky-handle"])
def test_a_missing_mastodon_or_bluesky_variable_is_named(tmp_path: Path, present: dict[str, str], missing: str,
                                                         hint: str) -> None:
    path = _env_file(tmp_path, {**TWITTER, **present})
    result = _run("--from-env", str(path))
    message = _error(result)
    assert message.startswith(f"{path}: {missing} ({hint}")
    _assert_no_value(message + result.output, {**TWITTER, **present})


def test_through_lorecast_a_missing_app_password_shows_no_value(tmp_path: Path) -> None:
    values = {**BLUESKY, "LORECAST_BLUESKY_HANDLE": ""}
    done = lorecast("k8s", "secret", "--from-env", _env_file(tmp_path, values), cwd=tmp_path, process=True)
    assert done.exit_code == 1 and done.stdout == ""
    assert done.stderr.startswith("error: ") and "missing LORECAST_BLUESKY_HANDLE " in done.stderr
    assert done.stderr.count("\n") == 1
    _assert_no_value(done.stderr, values)


def test_mastodon_asked_for_with_only_the_apps_keys(tmp_path: Path) -> None:
    # The client id and secret are no credentials for posting: the file has none for mastodon.
    path = _env_file(tmp_path, {**TWITTER, **MASTODON_APP})
    message = _error(_run("--from-env", str(path), "--platform", "mastodon"))
    assert message == f"{path}: no LORECAST_MASTODON_… credentials for mastodon"


def test_the_help_says_what_goes_in_and_what_stays_out() -> None:
    result = _run("--help")
    assert result.exit_code == 0
    for name in ("LORECAST_MASTODON_INSTANCE", "_ACCESS_TOKEN", "LORECAST_MASTODON_VISIBILITY",
                 "LORECAST_BLUESKY_HANDLE", "_APP_PASSWORD", "LORECAST_BLUESKY_SERVICE", "LORECAST_TUMBLR_BLOG"):
        assert name in result.stdout
    assert "LORECAST_MASTODON_CLIENT_ID and _CLIENT_SECRET stay out" in result.stdout
    assert "mastodon|bluesky" in result.stdout


def test_an_empty_credential_counts_as_missing(tmp_path: Path) -> None:
    path = _env_file(tmp_path, {**TWITTER, "LORECAST_TWITTER_CONSUMER_KEY": ""})
    assert "missing LORECAST_TWITTER_CONSUMER_KEY " in _error(_run("--from-env", str(path)))


def test_a_platform_asked_for_but_not_in_the_file(tmp_path: Path) -> None:
    path = _env_file(tmp_path, TWITTER)
    message = _error(_run("--from-env", str(path), "--platform", "tumblr"))
    assert message == f"{path}: no LORECAST_TUMBLR_… credentials for tumblr"


def test_a_file_without_any_credentials(tmp_path: Path) -> None:
    path = _env_file(tmp_path, {**OTHERS, **MASTODON_SETTINGS, **BLUESKY_SETTINGS})  # settings are no credentials
    assert _error(_run("--from-env", str(path))) == (
        f"{path}: no LORECAST_TWITTER_…, LORECAST_TUMBLR_…, LORECAST_MASTODON_… or LORECAST_BLUESKY_… credentials")


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
