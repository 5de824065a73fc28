"""`lorecast auth twitter|tumblr`: the OAuth1 PIN flow end to end against the local test platform, with the
PIN read from the authorize page as a browser would show it, and no secret in errors."""

from __future__ import annotations

import re

import pytest
import requests
from cli_harness import lorecast, start_lorecast
from platform_server import PlatformServer

from lorecast.errors import PinFlowError
from poster.credentials import OAuth1Credentials
from poster.platforms.tumblr import TumblrPlatform
from poster.platforms.twitter import TwitterPlatform


def _settings(server: PlatformServer, platform: str) -> tuple[OAuth1Credentials, dict[str, str]]:
    """The platform's app keys as environment variables, and the URL option of the command."""
    if platform == "twitter":
        credentials, url_env, url = server.twitter_credentials, "LORECAST_TWITTER_API_URL", server.twitter_api_url
    else:
        credentials, url_env, url = server.tumblr_credentials, "LORECAST_TUMBLR_OAUTH_URL", server.tumblr_oauth_url
    prefix = f"LORECAST_{platform.upper()}"
    return credentials, {f"{prefix}_CONSUMER_KEY": credentials.consumer_key,
                         f"{prefix}_CONSUMER_SECRET": credentials.consumer_secret, url_env: url}


@pytest.mark.parametrize("platform", ["twitter", "tumblr"])
def test_pin_flow_end_to_end(platform_server: PlatformServer, platform: str) -> None:
    app, env = _settings(platform_server, platform)
    # A process of its own: the command waits at its PIN prompt while the test reads the URL it printed.
    command = start_lorecast("auth", platform, env=env, stdin=True)
    try:
        # The user's side: read the authorize URL, open it, and type the PIN the page shows.
        url = None
        while url is None:
            line = command.stderr.readline()
            assert line, "the command ended without printing an authorize URL"
            url = next(iter(re.findall(r"https?://\S+/oauth/authorize\?oauth_token=\S+", line)), None)
        page = requests.get(url, timeout=5)
        pin = re.search(r'<code id="pin">(\w+)</code>', page.text).group(1)
        stdout, stderr = command.communicate(pin + "\n", timeout=30)
    finally:
        if command.poll() is None:
            command.kill()
            command.wait()
    assert command.returncode == 0, stderr

    prefix = f"LORECAST_{platform.upper()}"
    lines = dict(line.split("=", 1) for line in stdout.splitlines())
    assert list(lines) == [f"{prefix}_CONSUMER_KEY", f"{prefix}_CONSUMER_SECRET", f"{prefix}_ACCESS_TOKEN",
                           f"{prefix}_ACCESS_SECRET"]
    assert (lines[f"{prefix}_CONSUMER_KEY"], lines[f"{prefix}_CONSUMER_SECRET"]) == (app.consumer_key,
                                                                                     app.consumer_secret)
    assert f"kubectl create secret generic lorecast-{platform} --from-env-file={platform}.env" in stderr
    for value in lines.values():  # the secrets go to stdout only
        assert value not in stderr

    # The new access token posts as the account.
    issued = OAuth1Credentials(app.consumer_key, app.consumer_secret, lines[f"{prefix}_ACCESS_TOKEN"],
                               lines[f"{prefix}_ACCESS_SECRET"])
    assert issued.access_token != app.access_token
    if platform == "twitter":
        assert "Authorized as @lorecast_test." in stderr
        client = TwitterPlatform(issued, api_url=platform_server.twitter_api_url)
    else:
        client = TumblrPlatform(issued, blog=platform_server.tumblr_blog, api_url=platform_server.tumblr_api_url)
    post_id = client.post("Posted with the token the PIN flow gave.")
    assert [post.id for post in platform_server.posts(platform)] == [post_id]


def test_a_wrong_consumer_secret_is_refused_without_showing_it(platform_server: PlatformServer) -> None:
    app, env = _settings(platform_server, "twitter")
    env["LORECAST_TWITTER_CONSUMER_SECRET"] = "notthesecret123"
    result = lorecast("auth", "twitter", env=env)
    assert isinstance(result.exception, PinFlowError)
    message = str(result.exception)
    assert "request_token" in message and "HTTP 401" in message and "\n" not in message
    for secret in (app.consumer_key, "notthesecret123"):
        assert secret not in message and secret not in result.output


def test_a_wrong_pin_is_refused(platform_server: PlatformServer) -> None:
    app, env = _settings(platform_server, "tumblr")
    result = lorecast("auth", "tumblr", env=env, input="0000000\n")
    assert isinstance(result.exception, PinFlowError)
    message = str(result.exception)
    assert "access_token" in message and "HTTP 401" in message
    assert "/oauth/authorize?oauth_token=" in result.output  # the URL was shown before the PIN was asked for
    token = re.search(r"oauth_token=(\w+)", result.output).group(1)
    for secret in (app.consumer_key, app.consumer_secret, token):
        assert secret not in message


def test_consumer_keys_from_flags_and_a_missing_one_named(platform_server: PlatformServer) -> None:
    result = lorecast("auth", "twitter", "--twitter-consumer-key", "somekey1", env={
        "LORECAST_TWITTER_CONSUMER_KEY": None, "LORECAST_TWITTER_CONSUMER_SECRET": None})
    assert result.exit_code == 2
    assert "--twitter-consumer-secret (or LORECAST_TWITTER_CONSUMER_SECRET)" in result.output
    assert "--twitter-consumer-key (" not in result.output

    app = platform_server.twitter_credentials
    result = lorecast(
        "auth", "twitter", "--twitter-consumer-key", app.consumer_key, "--twitter-consumer-secret", app.consumer_secret,
        "--twitter-api-url", platform_server.twitter_api_url, input="1234567\n",
    )
    # The keys from the flags got a request token; the made-up PIN is what stopped it.
    assert "/oauth/authorize?oauth_token=" in result.output
    assert isinstance(result.exception, PinFlowError) and "access_token" in str(result.exception)


def test_unreachable_platform_is_one_line(platform_server: PlatformServer) -> None:
    _, env = _settings(platform_server, "twitter")
    env["LORECAST_TWITTER_API_URL"] = "http://127.0.0.1:1"
    result = lorecast("auth", "twitter", "--timeout", "2", env=env)
    assert isinstance(result.exception, PinFlowError)
    assert str(result.exception) == ("cannot ask http://127.0.0.1:1/oauth/request_token for a request token: "
                                     "Connection refused")
