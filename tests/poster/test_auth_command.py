"""`lorecast auth twitter|tumblr` end to end against the local test platform: X's PIN flow with the PIN read from
the authorize page as a browser shows it; Tumblr's callback flow with a "browser" (requests) that follows the
redirect to the command's listener, or whose address is pasted on stdin; and no secret in errors."""

from __future__ import annotations

import os
import re
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from cli_harness import lorecast, start_lorecast
from platform_server import PlatformServer
from requests_oauthlib import OAuth1Session

from lorecast.errors import PinFlowError
from poster.credentials import OAuth1Credentials

AUTHORIZE_URL = re.compile(r"https?://\S+/oauth/authorize\?oauth_token=\S+")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _settings(server: PlatformServer, platform: str) -> tuple[OAuth1Credentials, dict[str, str], list[str]]:
    """The platform's app keys as environment variables with the URL option, and the command's arguments. For
    Tumblr, a free port for the listener, whose callback URL the test app has registered."""
    if platform == "twitter":
        credentials, url_env, url = server.twitter_credentials, "LORECAST_TWITTER_API_URL", server.twitter_api_url
        arguments = ["auth", "twitter"]
    else:
        credentials, url_env, url = server.tumblr_credentials, "LORECAST_TUMBLR_OAUTH_URL", server.tumblr_oauth_url
        port = _free_port()
        server.tumblr_callback_url = f"http://127.0.0.1:{port}/callback"
        arguments = ["auth", "tumblr", "--callback-port", str(port), "--wait", "30"]
    prefix = f"LORECAST_{platform.upper()}"
    return credentials, {f"{prefix}_CONSUMER_KEY": credentials.consumer_key,
                         f"{prefix}_CONSUMER_SECRET": credentials.consumer_secret, url_env: url}, arguments


@contextmanager
def _running(arguments: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """The command in a process of its own (it waits while the test plays the user), killed if still running."""
    command = start_lorecast(*arguments, env=env, stdin=True)
    try:
        yield command
    finally:
        if command.poll() is None:
            command.kill()
            command.wait()


def _authorize_url(command: subprocess.Popen[str]) -> tuple[str, str]:
    """(the authorize URL the command printed on stderr, the stderr up to it). Read a byte at a time from the
    pipe itself: communicate() later reads the pipe, not what a text wrapper would have buffered ahead."""
    seen = b""
    descriptor = command.stderr.fileno()  # type: ignore[union-attr]
    while True:
        byte = os.read(descriptor, 1)
        text = seen.decode(errors="replace")
        assert byte, f"the command ended without printing an authorize URL: {text}"
        seen += byte
        found = AUTHORIZE_URL.search(text)
        if byte == b"\n" and found:
            return found.group(0), seen.decode(errors="replace")


def _check_issued(server: PlatformServer, platform: str, app: OAuth1Credentials, stdout: str,
                  stderr: str) -> None:
    """The four .env lines on stdout and none of their values on stderr; the new token acts as the account."""
    prefix = f"LORECAST_{platform.upper()}"
    lines = dict(line.split("=", 1) for line in stdout.splitlines())
    assert list(lines) == [f"{prefix}_CONSUMER_KEY", f"{prefix}_CONSUMER_SECRET", f"{prefix}_ACCESS_TOKEN",
                           f"{prefix}_ACCESS_SECRET"]
    assert (lines[f"{prefix}_CONSUMER_KEY"], lines[f"{prefix}_CONSUMER_SECRET"]) == (app.consumer_key,
                                                                                     app.consumer_secret)
    assert f"lorecast k8s secret --from-env {platform}.env --platform {platform} | kubectl apply -f -" in stderr
    for value in lines.values():
        assert value not in stderr
    issued = OAuth1Session(app.consumer_key, app.consumer_secret, lines[f"{prefix}_ACCESS_TOKEN"],
                           lines[f"{prefix}_ACCESS_SECRET"])
    assert lines[f"{prefix}_ACCESS_TOKEN"] != app.access_token
    if platform == "twitter":
        me = issued.get(f"{server.twitter_api_url}/2/users/me")
        assert me.status_code == 200 and me.json()["data"]["username"] == "lorecast_test"
    else:
        posted = issued.post(f"{server.tumblr_api_url}/v2/blog/{server.tumblr_blog}/posts",
                             json={"content": [{"type": "text", "text": "Posted with the token of the sign-in."}]})
        assert posted.status_code == 201
        assert [post.text for post in server.posts("tumblr")] == ["Posted with the token of the sign-in."]


def _access_token_requests(server: PlatformServer) -> list[str]:
    return [logged.path for logged in server.requests if logged.path.endswith("/oauth/access_token")]


# --- X: the PIN flow ----------------------------------------------------------------------------------------------


def test_the_x_pin_flow_end_to_end(platform_server: PlatformServer) -> None:
    app, env, arguments = _settings(platform_server, "twitter")
    with _running(arguments, env) as command:
        # The user's side: open the authorize URL and type the PIN the page shows.
        url, _ = _authorize_url(command)
        page = requests.get(url, timeout=5)
        pin = re.search(r'<code id="pin">(\w+)</code>', page.text).group(1)
        stdout, stderr = command.communicate(pin + "\n", timeout=30)

    assert command.returncode == 0, stderr
    assert "Authorized as @lorecast_test." in stderr
    _check_issued(platform_server, "twitter", app, stdout, stderr)


def test_a_wrong_consumer_secret_is_refused_without_showing_it(platform_server: PlatformServer) -> None:
    app, env, arguments = _settings(platform_server, "twitter")
    env["LORECAST_TWITTER_CONSUMER_SECRET"] = "notthesecret123"
    result = lorecast(*arguments, env=env)
    assert isinstance(result.exception, PinFlowError)
    message = str(result.exception)
    assert "request_token" in message and "HTTP 401" in message and "\n" not in message
    for secret in (app.consumer_key, "notthesecret123"):
        assert secret not in message and secret not in result.output


def test_a_wrong_pin_is_refused(platform_server: PlatformServer) -> None:
    app, env, arguments = _settings(platform_server, "twitter")
    result = lorecast(*arguments, env=env, input="0000000\n")
    assert isinstance(result.exception, PinFlowError)
    message = str(result.exception)
    assert "access_token" in message and "HTTP 401" in message
    assert "/oauth/authorize?oauth_token=" in result.output  # the URL was shown before the PIN was asked for
    token = re.search(r"oauth_token=(\w+)", result.output).group(1)
    for secret in (app.consumer_key, app.consumer_secret, token, "0000000"):
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
    _, env, arguments = _settings(platform_server, "twitter")
    env["LORECAST_TWITTER_API_URL"] = "http://127.0.0.1:1"
    result = lorecast(*arguments, "--timeout", "2", env=env)
    assert isinstance(result.exception, PinFlowError)
    assert str(result.exception) == ("cannot ask http://127.0.0.1:1/oauth/request_token for a request token: "
                                     "Connection refused")


# --- Tumblr: the callback flow ------------------------------------------------------------------------------------


def test_tumblr_the_browser_comes_back_to_the_listener(platform_server: PlatformServer) -> None:
    app, env, arguments = _settings(platform_server, "tumblr")
    with _running(arguments, env) as command:
        url, shown = _authorize_url(command)
        listener = platform_server.tumblr_callback_url.removesuffix("/callback")
        # The listener serves /callback and nothing else.
        assert requests.get(f"{listener}/favicon.ico", timeout=5).status_code == 404
        assert requests.post(f"{listener}/callback", timeout=5).status_code == 501
        # The browser: Tumblr's authorize step redirects it to the listener, which answers it.
        page = requests.get(url, timeout=10)
        stdout, stderr = command.communicate(timeout=30)

    assert command.returncode == 0, stderr
    assert [step.status_code for step in page.history] == [302]
    assert page.status_code == 200 and "You can close this tab." in page.text
    assert page.url.startswith(f"{platform_server.tumblr_callback_url}?")
    assert f"for Tumblr to send the browser to {platform_server.tumblr_callback_url}" in shown + stderr
    assert "paste its address" in stderr
    _check_issued(platform_server, "tumblr", app, stdout, stderr)
    verifier = parse_qs(urlsplit(page.url).query)["oauth_verifier"][0]
    assert verifier not in stderr


def test_tumblr_the_address_pasted_on_stdin(platform_server: PlatformServer) -> None:
    app, env, arguments = _settings(platform_server, "tumblr")
    with _running(arguments, env) as command:
        url, _ = _authorize_url(command)
        # A browser on another machine: the redirect it gets cannot reach this one; the user copies its address.
        redirect = requests.get(url, allow_redirects=False, timeout=10)
        assert redirect.status_code == 302
        stdout, stderr = command.communicate(f"\n  {redirect.headers['Location']}  \n", timeout=30)

    assert command.returncode == 0, stderr
    _check_issued(platform_server, "tumblr", app, stdout, stderr)
    assert parse_qs(urlsplit(redirect.headers["Location"]).query)["oauth_verifier"][0] not in stderr


def test_tumblr_a_callback_with_another_request_token_is_refused(platform_server: PlatformServer) -> None:
    app, env, arguments = _settings(platform_server, "tumblr")
    with _running(arguments, env) as command:
        url, _ = _authorize_url(command)
        location = urlsplit(requests.get(url, allow_redirects=False, timeout=10).headers["Location"])
        query = parse_qs(location.query)
        other = {"oauth_token": "someOtherRunsToken123", "oauth_verifier": query["oauth_verifier"][0]}
        page = requests.get(location._replace(query=urlencode(other)).geturl(), timeout=10)
        stdout, stderr = command.communicate(timeout=30)

    assert command.returncode == 1 and stdout == ""
    assert page.status_code == 400 and "did not get the authorization" in page.text
    [error] = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert "oauth_token is not this run's request token" in error
    for secret in (app.consumer_key, app.consumer_secret, query["oauth_verifier"][0], "someOtherRunsToken123"):
        assert secret not in stderr and secret not in page.text
    assert _access_token_requests(platform_server) == []


@pytest.mark.parametrize("how", ["browser", "pasted"])
def test_tumblr_a_denied_authorization(platform_server: PlatformServer, how: str) -> None:
    app, env, arguments = _settings(platform_server, "tumblr")
    platform_server.tumblr_user_denies = True
    with _running(arguments, env) as command:
        url, _ = _authorize_url(command)
        token = parse_qs(urlsplit(url).query)["oauth_token"][0]
        if how == "browser":  # Tumblr sends the browser to the bare callback URL
            page = requests.get(url, timeout=10)
            assert page.status_code == 400 and page.url == platform_server.tumblr_callback_url
            stdout, stderr = command.communicate(timeout=30)
        else:  # the address of a refusal, as some OAuth1 providers word it
            stdout, stderr = command.communicate(
                f"{platform_server.tumblr_callback_url}?denied={token}\n", timeout=30)

    assert command.returncode == 1 and stdout == ""
    [error] = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert error.startswith("error: the authorization was denied")
    assert token not in error and app.consumer_secret not in stderr
    assert _access_token_requests(platform_server) == []


def test_tumblr_a_pasted_line_that_is_not_the_address(platform_server: PlatformServer) -> None:
    _, env, arguments = _settings(platform_server, "tumblr")
    result = lorecast(*arguments, env=env, input="1234567\n")
    assert isinstance(result.exception, PinFlowError)
    assert "the pasted line is not the address Tumblr sent the browser to" in str(result.exception)


def test_tumblr_waits_only_as_long_as_told_and_frees_the_port(platform_server: PlatformServer) -> None:
    _, env, arguments = _settings(platform_server, "tumblr")
    result = lorecast(*arguments, "--wait", "0.3", env=env)  # stdin is empty: only the browser could answer
    assert isinstance(result.exception, PinFlowError)
    assert str(result.exception) == (f"no authorization came back within 0.3 s: the browser did not reach "
                                     f"{platform_server.tumblr_callback_url} and no address was pasted")
    with pytest.raises(requests.ConnectionError):
        requests.get(platform_server.tumblr_callback_url, timeout=5)


def test_tumblr_refuses_a_callback_the_app_has_not_registered(platform_server: PlatformServer) -> None:
    app, env, arguments = _settings(platform_server, "tumblr")
    registered = platform_server.tumblr_callback_url
    platform_server.tumblr_callback_url = f"http://127.0.0.1:{_free_port()}/callback"  # the app has another one
    result = lorecast(*arguments, env=env)
    assert isinstance(result.exception, PinFlowError)
    message = str(result.exception)
    assert "request_token" in message and "HTTP 401" in message
    assert f"default callback URL is exactly {registered}" in message
    for secret in (app.consumer_key, app.consumer_secret):
        assert secret not in result.output
    # The listener is gone with the run.
    with socket.socket() as again:
        again.bind(("127.0.0.1", urlsplit(registered).port))


def test_tumblr_a_callback_port_in_use(platform_server: PlatformServer) -> None:
    _, env, arguments = _settings(platform_server, "tumblr")
    port = urlsplit(platform_server.tumblr_callback_url).port
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        result = lorecast(*arguments, env=env)
    assert isinstance(result.exception, PinFlowError)
    assert str(result.exception).startswith(f"cannot listen on 127.0.0.1:{port} for the callback: ")
    assert platform_server.requests == []  # Tumblr was not asked for a request token
