"""`lorecast auth mastodon`: the OAuth out-of-band flow end to end against the local Mastodon stand-in, with the
code read from the page the instance shows, or the URL the browser ended on pasted instead, and no secret in any
error."""

from __future__ import annotations

import io
import re
from datetime import datetime, timezone

import pytest
import requests
from cli_harness import start_lorecast
from click.testing import CliRunner
from mastodon_server import MastodonServer

from lorecast.errors import AuthRefused, PinFlowError
from poster.commands.auth_mastodon import mastodon_command
from poster.mastodon_oauth import MastodonApp, code_from, exchange_code, register_app
from poster.platforms.base import Draft
from poster.platforms.mastodon import MastodonPlatform

_URL = re.compile(r"https?://\S+/oauth/authorize\?\S+")


def approve(authorize_url: str) -> requests.Response:
    """The owner's browser: open the URL (signed in, approving at once) and land on the page with the code."""
    page = requests.get(authorize_url, timeout=5)
    assert page.status_code == 200, page.text
    return page


def shown_code(page: requests.Response) -> str:
    return re.search(r'class="oauth-code" readonly type="text" value="([^"]+)"', page.text).group(1)


def run(server: MastodonServer, paste, *args: str, env: dict[str, str] | None = None):
    """The command through click's runner, its prompt answered with paste(authorize_url). The URL is known only
    once the command has printed it, so stdin is a stream that makes its line from what stderr holds by then."""
    runner = CliRunner()
    printed: list[io.BytesIO] = []

    class Answer(io.RawIOBase):
        def __init__(self) -> None:
            self.pending: bytes | None = None

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:
            if self.pending is None:
                url = _URL.search(printed[0].getvalue().decode())
                self.pending = (paste(url.group(0)) + "\n").encode() if url else b""
            size = min(len(buffer), len(self.pending))
            buffer[:size], self.pending = self.pending[:size], self.pending[size:]
            return size

    with runner.isolation(input=io.BufferedReader(Answer()),
                          env={"LORECAST_MASTODON_INSTANCE": server.url, **(env or {})}) as streams:
        printed.append(streams[1])
        try:
            mastodon_command.main(list(args), prog_name="lorecast auth mastodon", standalone_mode=False)
            error = None
        except Exception as raised:  # noqa: BLE001 - returned to the test
            error = raised
        stdout, stderr = streams[0].getvalue().decode(), streams[1].getvalue().decode()
    return stdout, stderr, error


def env_lines(stdout: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in stdout.splitlines())


@pytest.mark.parametrize("paste", ["code", "redirect URL"])
def test_the_flow_gives_a_token_that_posts(mastodon_server: MastodonServer, paste: str) -> None:
    def answer(url: str) -> str:
        page = approve(url)
        return shown_code(page) if paste == "code" else page.url  # .../oauth/authorize/native?code=...

    stdout, stderr, error = run(mastodon_server, answer)
    assert error is None, stderr
    lines = env_lines(stdout)
    assert list(lines) == ["LORECAST_MASTODON_INSTANCE", "LORECAST_MASTODON_ACCESS_TOKEN",
                           "LORECAST_MASTODON_CLIENT_ID", "LORECAST_MASTODON_CLIENT_SECRET"]
    assert lines["LORECAST_MASTODON_INSTANCE"] == mastodon_server.url
    assert "Authorized as @lorebot." in stderr
    assert "lorecast k8s secret --from-env mastodon.env --platform mastodon | kubectl apply -f -" in stderr
    for name in ("LORECAST_MASTODON_ACCESS_TOKEN", "LORECAST_MASTODON_CLIENT_SECRET"):
        assert lines[name] not in stderr  # secrets go to stdout only
    token = lines["LORECAST_MASTODON_ACCESS_TOKEN"]
    assert token != mastodon_server.access_token
    status_id = MastodonPlatform(mastodon_server.url, token).post(
        Draft("Posted with the token the flow gave.", "3lb2vbyqxs4aa", datetime.now(timezone.utc)))
    assert [status.id for status in mastodon_server.posts()] == [status_id]
    assert sum(1 for logged in mastodon_server.requests if logged.path == "/api/v1/apps") == 1


def test_an_app_registered_before_is_reused(mastodon_server: MastodonServer) -> None:
    app = register_app(mastodon_server.url)
    stdout, stderr, error = run(mastodon_server, lambda url: shown_code(approve(url)),
                                env={"LORECAST_MASTODON_CLIENT_ID": app.client_id,
                                     "LORECAST_MASTODON_CLIENT_SECRET": app.client_secret})
    assert error is None, stderr
    assert env_lines(stdout)["LORECAST_MASTODON_CLIENT_ID"] == app.client_id
    assert sum(1 for logged in mastodon_server.requests if logged.path == "/api/v1/apps") == 1  # only ours
    assert "Registered" not in stderr

    stdout, stderr, error = run(mastodon_server, lambda url: "unused", "--mastodon-client-id", app.client_id,
                                env={"LORECAST_MASTODON_CLIENT_SECRET": ""})
    assert "--mastodon-client-secret" in str(error)


def test_a_wrong_or_used_code_is_refused_without_secrets(mastodon_server: MastodonServer) -> None:
    app = register_app(mastodon_server.url)
    stdout, stderr, error = run(mastodon_server, lambda url: "not-the-code-123",
                                env={"LORECAST_MASTODON_CLIENT_ID": app.client_id,
                                     "LORECAST_MASTODON_CLIENT_SECRET": app.client_secret})
    assert isinstance(error, PinFlowError) and not stdout
    message = str(error)
    assert "/oauth/token" in message and "HTTP 400" in message and "invalid_grant" in message
    assert "\n" not in message
    for secret in (app.client_secret, "not-the-code-123"):
        assert secret not in message

    from poster.mastodon_oauth import authorize_url

    code = shown_code(approve(authorize_url(app)))
    exchange_code(app, code)
    with pytest.raises(PinFlowError) as again:  # a code works once
        exchange_code(app, code)
    assert "invalid_grant" in str(again.value) and code not in str(again.value)
    with pytest.raises(PinFlowError) as wrong_secret:
        exchange_code(MastodonApp(app.instance_url, app.client_id, "wrong-secret-1234"),
                      shown_code(approve(authorize_url(app))))
    assert "HTTP 401" in str(wrong_secret.value) and "wrong-secret-1234" not in str(wrong_secret.value)


def test_what_can_be_pasted() -> None:
    assert code_from("  abc123 \n") == "abc123"
    assert code_from("https://mastodon.example/oauth/authorize/native?code=abc123") == "abc123"
    assert code_from("https://app.example/callback?state=x&code=abc123") == "abc123"
    with pytest.raises(PinFlowError, match=r"did not authorize the app: access_denied \(The resource owner"):
        code_from("https://app.example/callback?error=access_denied&error_description=The+resource+owner+denied")
    with pytest.raises(PinFlowError, match="no \\?code="):
        code_from("https://mastodon.example/oauth/authorize/native")
    with pytest.raises(PinFlowError, match="nothing pasted"):
        code_from("   ")


def test_verify_credentials_refusal_is_auth_refused(mastodon_server: MastodonServer) -> None:
    app = register_app(mastodon_server.url)
    from poster.mastodon_oauth import authorize_url

    token = exchange_code(app, shown_code(approve(authorize_url(app))))
    assert token.scope.split() == ["read", "write:statuses"]
    mastodon_server.revoke(token.access_token)
    with pytest.raises(AuthRefused) as caught:
        MastodonPlatform(mastodon_server.url, token.access_token).account
    assert token.access_token not in str(caught.value)


def test_unreachable_instance_is_one_line() -> None:
    with pytest.raises(PinFlowError) as caught:
        register_app("http://127.0.0.1:1", timeout=2)
    assert str(caught.value) == "cannot ask http://127.0.0.1:1/api/v1/apps for register the app: Connection refused"


def test_help_tells_how_to_use_an_existing_token() -> None:
    result = CliRunner().invoke(mastodon_command, ["--help"])
    assert result.exit_code == 0
    assert "Preferences > Development > New application" in result.output
    assert "LORECAST_MASTODON_ACCESS_TOKEN" in result.output


def test_through_lorecast_auth_mastodon(mastodon_server: MastodonServer) -> None:
    """The registered command, in its own process, the prompt answered from outside (as a user would)."""
    command = start_lorecast("auth", "mastodon", env={"LORECAST_MASTODON_INSTANCE": mastodon_server.url},
                             stdin=True)
    try:
        url = None
        while url is None:
            line = command.stderr.readline()
            assert line, "the command ended without printing an authorize URL"
            url = next(iter(_URL.findall(line)), None)
        stdout, stderr = command.communicate(approve(url).url + "\n", timeout=30)
    finally:
        if command.poll() is None:
            command.kill()
            command.wait()
    assert command.returncode == 0, stderr
    assert "Authorized as @lorebot." in stderr
    assert list(env_lines(stdout))[:2] == ["LORECAST_MASTODON_INSTANCE", "LORECAST_MASTODON_ACCESS_TOKEN"]
