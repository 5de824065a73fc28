"""The bluesky platform against the local stand-in (tests/poster/bluesky_server.py): graphemes and facet offsets,
the session record (one login across runs, refresh on expiry, one login when the refresh is dead, the login rate
limit), idempotent creates by record key through 500s, timeouts and dropped answers, engagement, the error
mapping, `lorecast auth bluesky`, and no secret anywhere but the session file."""

from __future__ import annotations

import json
import stat
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from bluesky_server import BlueskyServer
from click.testing import CliRunner
from platform_server.faults import DropAfterAccept, RateLimit, Slow, Status

import poster.bluesky_session
from lorecast.errors import AuthRefused, PlatformError, RateLimited
from poster.bluesky_session import jwt_claims, session_path
from poster.bluesky_text import MAX_GRAPHEMES, grapheme_length, link_facets, too_long
from poster.commands.auth_bluesky import bluesky_command
from poster.ledger import Ledger
from poster.platforms.base import Draft
from poster.platforms.bluesky import BlueskyPlatform
from poster.tid import tid

_T0 = datetime(2026, 12, 3, 12, 0, tzinfo=timezone.utc)
# One grapheme each: a ZWJ sequence, a skin tone, a flag, a combining accent, a Hangul syllable from jamo.
CLUSTERS = ("👩\u200d💻", "👍🏽", "🇫🇷", "e\u0301", "\u1100\u1161", "x")


def draft(text: str, n: int = 1) -> Draft:
    when = _T0 + timedelta(seconds=n)
    return Draft(text=text, key=tid(when, n), created_at=when)


def platform(server: BlueskyServer, directory: Path, **kwargs) -> BlueskyPlatform:
    options = {"app_password": server.app_password, "timeout": 5.0, **kwargs}
    return BlueskyPlatform(server.url, server.handle, session_file=session_path(directory / "posts.db",
                                                                                server.handle), **options)


def wait_past_exp(token: str) -> None:
    """Wait out a short-lived JWT: a loop on its own exp claim, not a timed assertion."""
    while time.time() < jwt_claims(token)["exp"]:
        time.sleep(0.05)


def grapheme_text(count: int) -> str:
    return "".join(CLUSTERS[i % len(CLUSTERS)] for i in range(count))


# --- text


def test_graphemes_are_clusters_and_bytes_count_too() -> None:
    assert [grapheme_length(cluster) for cluster in CLUSTERS] == [1] * len(CLUSTERS)
    assert grapheme_length(grapheme_text(MAX_GRAPHEMES)) == MAX_GRAPHEMES
    assert too_long(grapheme_text(MAX_GRAPHEMES)) is None
    assert too_long(grapheme_text(MAX_GRAPHEMES + 1)) == "301 graphemes, Bluesky allows 300"
    family = "👨\u200d👩\u200d👧\u200d👦"  # one grapheme, 25 bytes: 300 of them are 7500 bytes
    assert too_long(family * 300) == "7500 bytes of UTF-8, Bluesky allows 3000"


@pytest.mark.parametrize(("text", "urls"), [
    ("👩‍💻 read https://example.com/a?b=1.", ["https://example.com/a?b=1"]),
    ("(see https://en.wikipedia.org/wiki/Foo_(bar)) and http://x.org/ü!", [
        "https://en.wikipedia.org/wiki/Foo_(bar)", "http://x.org/ü"]),
    ("[https://a.example/]; e\u0301 https://b.example/p,", ["https://a.example/", "https://b.example/p"]),
    ("no link: https:// nor xhttps://a.b nor ftp://c.d", []),
])
def test_link_facets_slice_exactly_the_url_out_of_the_utf8_text(text: str, urls: list[str]) -> None:
    facets = link_facets(text)
    data = text.encode("utf-8")
    assert [facet["features"] for facet in facets] == [
        [{"$type": "app.bsky.richtext.facet#link", "uri": url}] for url in urls]
    for facet, url in zip(facets, urls, strict=True):
        index = facet["index"]
        assert data[index["byteStart"]:index["byteEnd"]].decode("utf-8") == url


def test_fits(bluesky_server: BlueskyServer, tmp_path: Path) -> None:
    bsky = platform(bluesky_server, tmp_path)
    assert bsky.fits(grapheme_text(300)) is None
    assert bsky.fits(grapheme_text(301)) == "301 graphemes, Bluesky allows 300"
    assert bsky.fits(" \n") == "empty text"
    assert bluesky_server.requests == []  # fits() is local


# --- posting and finding


def test_post_with_facets_then_find_by_key(bluesky_server: BlueskyServer, tmp_path: Path) -> None:
    bsky = platform(bluesky_server, tmp_path)
    text = "🇫🇷 é https://example.com/x, then (https://example.org)"
    uri = bsky.post(draft(text))
    first = draft(text)
    assert uri == f"at://{bluesky_server.did}/app.bsky.feed.post/{first.key}"
    [record] = bluesky_server.posts()
    assert (record.rkey, record.text, record.created_at) == (first.key, text, "2026-12-03T12:00:01.000Z")
    assert [f["features"][0]["uri"] for f in record.facets] == ["https://example.com/x", "https://example.org"]
    assert bsky.find(first) == uri
    assert bsky.find(draft(text, n=2)) is None  # a key never used
    assert bsky.account == bluesky_server.handle


def test_a_repeated_create_answered_500_returns_the_existing_uri(bluesky_server: BlueskyServer,
                                                                   tmp_path: Path) -> None:
    bsky = platform(bluesky_server, tmp_path)
    uri = bsky.post(draft("once"))
    assert bsky.post(draft("once")) == uri  # the stand-in answers 500, as the reference PDS
    assert len(bluesky_server.posts()) == 1


@pytest.mark.parametrize("fault", [DropAfterAccept(), Slow(1.0)])
def test_a_lost_answer_to_a_create_that_went_through_is_found(bluesky_server: BlueskyServer, tmp_path: Path,
                                                                fault) -> None:
    bsky = platform(bluesky_server, tmp_path, timeout=0.5)
    bluesky_server.inject(r"createRecord$", fault)
    uri = bsky.post(draft("lost answer"))
    assert [record.uri for record in bluesky_server.posts()] == [uri]


def test_a_5xx_without_a_record_stays_transient(bluesky_server: BlueskyServer, tmp_path: Path) -> None:
    bsky = platform(bluesky_server, tmp_path)
    bluesky_server.inject(r"createRecord$", Status(503))
    with pytest.raises(PlatformError) as caught:
        bsky.post(draft("not yet"))
    assert caught.value.transient and "HTTP 503" in str(caught.value)
    assert bluesky_server.posts() == []
    assert ("GET", "/xrpc/com.atproto.repo.getRecord", False) in bluesky_server.requests  # it looked


def test_another_text_under_our_key_is_refused_not_claimed(bluesky_server: BlueskyServer, tmp_path: Path) -> None:
    bsky = platform(bluesky_server, tmp_path)
    bsky.post(draft("first text"))
    other = Draft("second text", draft("first text").key, _T0)
    for call in (bsky.post, bsky.find):
        with pytest.raises(PlatformError, match="holds another text") as caught:
            call(other)
        assert not caught.value.transient


def test_the_pds_limits_hold_when_fits_is_skipped(bluesky_server: BlueskyServer, tmp_path: Path) -> None:
    bsky = platform(bluesky_server, tmp_path)
    with pytest.raises(PlatformError, match="grapheme too big") as caught:
        bsky.post(draft(grapheme_text(301)))
    assert not caught.value.transient
    with pytest.raises(PlatformError, match="Invalid record key"):
        bsky.post(Draft("bad key", "not-a-tid", _T0))


# --- sessions


def test_the_session_is_reused_across_runs(bluesky_server: BlueskyServer, tmp_path: Path) -> None:
    for n in (1, 2):
        bsky = platform(bluesky_server, tmp_path)  # a new run: a new object, the same session record
        bsky.post(draft(f"run {n}", n))
        bsky.close()
    assert (bluesky_server.logins, bluesky_server.refreshes) == (1, 0)
    path = session_path(tmp_path / "posts.db", bluesky_server.handle)
    assert path.name == f"bluesky-session-{bluesky_server.handle}.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temporary file left
    assert jwt_claims(json.loads(path.read_text())["accessJwt"])["sub"] == bluesky_server.did


def test_an_expired_access_jwt_is_refreshed_once(bluesky_server: BlueskyServer, tmp_path: Path) -> None:
    bluesky_server.access_ttl_s = 1.0
    platform(bluesky_server, tmp_path).post(draft("before"))
    stored = json.loads(session_path(tmp_path / "posts.db", bluesky_server.handle).read_text())
    bluesky_server.access_ttl_s = 7200.0
    wait_past_exp(stored["accessJwt"])
    platform(bluesky_server, tmp_path).post(draft("after", 2))
    assert (bluesky_server.logins, bluesky_server.refreshes) == (1, 1)
    renewed = json.loads(session_path(tmp_path / "posts.db", bluesky_server.handle).read_text())
    assert renewed["refreshJwt"] != stored["refreshJwt"]  # the new pair is kept


def test_expired_token_from_the_pds_refreshes_and_resends(bluesky_server: BlueskyServer, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # A client whose clock runs an hour behind trusts the expired JWT: the PDS's 400 ExpiredToken must do it.
    bluesky_server.access_ttl_s = 1.0
    bsky = platform(bluesky_server, tmp_path)
    bsky.post(draft("before"))
    stored = json.loads(session_path(tmp_path / "posts.db", bluesky_server.handle).read_text())
    wait_past_exp(stored["accessJwt"])
    monkeypatch.setattr(poster.bluesky_session, "EXPIRY_MARGIN_S", -3600.0)
    bluesky_server.access_ttl_s = 7200.0
    bsky.post(draft("after", 2))
    assert (bluesky_server.logins, bluesky_server.refreshes) == (1, 1)
    creates = [entry for entry in bluesky_server.requests if entry[1].endswith("createRecord")]
    assert len(creates) == 3 and len(bluesky_server.posts()) == 2  # the refused one was sent again


def test_a_dead_refresh_jwt_costs_one_login(bluesky_server: BlueskyServer, tmp_path: Path) -> None:
    platform(bluesky_server, tmp_path).post(draft("before"))
    bluesky_server.revoke_sessions()  # e.g. the app password was revoked and made anew with the same value
    bsky = platform(bluesky_server, tmp_path)
    bsky.post(draft("after", 2))
    assert (bluesky_server.logins, bluesky_server.refreshes) == (2, 0)
    bluesky_server.revoke_sessions()  # refused again right after this run's login: no third login
    with pytest.raises(AuthRefused, match="lorecast auth bluesky"):
        bsky.post(draft("third", 3))
    assert bluesky_server.logins == 2


def test_a_wrong_app_password_is_refused_with_a_hint(bluesky_server: BlueskyServer, tmp_path: Path) -> None:
    bsky = platform(bluesky_server, tmp_path, app_password="aaaa-bbbb-cccc-dddd")
    with pytest.raises(AuthRefused) as caught:
        bsky.post(draft("x"))
    message = str(caught.value)
    assert "Invalid identifier or password" in message and "App passwords" in message
    assert "aaaa-bbbb-cccc-dddd" not in message and "\n" not in message


def test_the_login_rate_limit_is_rate_limited(bluesky_server: BlueskyServer, tmp_path: Path) -> None:
    for n in range(30):  # 30 runs that each lose their session record
        platform(bluesky_server, tmp_path / str(n)).post(draft(f"run {n}", n))
    with pytest.raises(RateLimited) as caught:
        platform(bluesky_server, tmp_path / "30").post(draft("one too many", 30))
    assert caught.value.reset_at is not None
    assert caught.value.reset_at > datetime.now(timezone.utc).timestamp() + 200  # the 5-minute window
    assert bluesky_server.logins == 30


# --- engagement


@pytest.mark.parametrize("via_appview", [False, True])
def test_engagement_from_getposts_25_a_request(bluesky_server: BlueskyServer, tmp_path: Path,
                                               via_appview: bool) -> None:
    bsky = platform(bluesky_server, tmp_path)
    uris = [bsky.post(draft(f"post {n}", n)) for n in range(27)]
    bluesky_server.set_engagement(uris[0], likeCount=3, repostCount=1, replyCount=2, quoteCount=1)
    bluesky_server.set_engagement(uris[26], likeCount=5)
    reader = platform(bluesky_server, tmp_path, appview_url=bluesky_server.appview_url) if via_appview else bsky
    gone = uris[0].rsplit("/", 1)[0] + "/" + tid(_T0, 999)
    counts = reader.engagement([*uris, uris[0], gone])
    assert set(counts) == set(uris)  # the unknown uri is left out
    assert (counts[uris[0]].likes, counts[uris[0]].reposts, counts[uris[0]].replies, counts[uris[0]].quotes) == (
        3, 1, 2, 1)
    assert counts[uris[26]].total == 5 and counts[uris[1]].total == 0
    reads = [entry for entry in bluesky_server.requests if entry[1].endswith("getPosts")]
    path = "/appview/xrpc/app.bsky.feed.getPosts" if via_appview else "/xrpc/app.bsky.feed.getPosts"
    assert reads == [("GET", path, not via_appview)] * 2  # the PDS's token never goes to the AppView


# --- errors and secrets


def test_errors_are_mapped_one_line_and_secret_free(bluesky_server: BlueskyServer, tmp_path: Path) -> None:
    bsky = platform(bluesky_server, tmp_path)
    uri = bsky.post(draft("hello"))
    bluesky_server.inject(r"createRecord$", RateLimit(60))
    with pytest.raises(RateLimited) as limited:
        bsky.post(draft("later", 2))
    bluesky_server.inject(r"getPosts$", Status(502))
    with pytest.raises(PlatformError) as upstream:
        bsky.engagement([uri])
    with pytest.raises(PlatformError) as refused:
        bsky.post(draft(grapheme_text(301), 3))
    assert limited.value.reset_at is not None and "resets at" in str(limited.value)
    assert upstream.value.transient and not refused.value.transient

    # The run keeps failures in the ledger: nothing secret may reach it, or any file but the session record.
    ledger_path = tmp_path / "posts.db"
    with Ledger(ledger_path) as ledger:
        for n, error in enumerate((limited.value, upstream.value, refused.value)):
            ledger.mark_failed(ledger.begin("bluesky", bsky.account, f"text {n}", score=None, ranked_by=None,
                                            rng_seed=None), str(error))
        ledger.mark_posted(ledger.begin("bluesky", bsky.account, "hello", score=None, ranked_by=None,
                                        rng_seed=None), uri)
    session_file = session_path(ledger_path, bluesky_server.handle)
    stored = json.loads(session_file.read_text())
    secrets = [bluesky_server.app_password, stored["accessJwt"], stored["refreshJwt"]]
    for error in (limited.value, upstream.value, refused.value):
        assert "\n" not in str(error) and not any(secret in str(error) for secret in secrets)
    for path in tmp_path.rglob("*"):
        if path.is_file() and path != session_file:
            data = path.read_bytes()
            assert not any(secret.encode() in data for secret in secrets), path.name
    assert not any(secret in repr(bsky) + repr(bsky.session) for secret in secrets)


# --- lorecast auth bluesky


def test_auth_command_logs_in_once_and_prints_the_env_lines(bluesky_server: BlueskyServer, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger" / "posts.db"
    env = {"LORECAST_BLUESKY_SERVICE": bluesky_server.url, "LORECAST_BLUESKY_HANDLE": "@" + bluesky_server.handle,
           "LORECAST_LEDGER": str(ledger)}
    result = CliRunner().invoke(bluesky_command, [], env=env, input=bluesky_server.app_password + "\n")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"LORECAST_BLUESKY_SERVICE={bluesky_server.url}",
                                          f"LORECAST_BLUESKY_HANDLE={bluesky_server.handle}",
                                          f"LORECAST_BLUESKY_APP_PASSWORD={bluesky_server.app_password}"]
    assert f"Signed in as {bluesky_server.handle} ({bluesky_server.did})" in result.stderr
    assert "lorecast k8s secret --from-env bluesky.env --platform bluesky | kubectl apply -f -" in result.stderr
    assert "warning" not in result.stderr and bluesky_server.app_password not in result.stderr
    assert bluesky_server.logins == 1
    bsky = platform(bluesky_server, ledger.parent)
    bsky.post(draft("after auth"))
    assert bluesky_server.logins == 1  # the run used the session the command stored


def test_auth_command_warns_about_an_account_password(bluesky_server: BlueskyServer, tmp_path: Path) -> None:
    result = CliRunner().invoke(bluesky_command, [
        "--bluesky-service", bluesky_server.url, "--bluesky-handle", bluesky_server.handle,
        "--bluesky-app-password", bluesky_server.password, "--ledger", str(tmp_path / "posts.db")])
    assert result.exit_code == 0, result.output
    assert "does not look like an app password" in result.stderr
    wrong = CliRunner().invoke(bluesky_command, [
        "--bluesky-service", bluesky_server.url, "--bluesky-handle", bluesky_server.handle,
        "--bluesky-app-password", "zzzz-zzzz-zzzz-zzzz", "--ledger", str(tmp_path / "other.db")])
    assert isinstance(wrong.exception, AuthRefused) and "zzzz-zzzz-zzzz-zzzz" not in str(wrong.exception)


def test_a_session_record_that_cannot_be_written_is_one_line_naming_the_file(bluesky_server, tmp_path):
    from cli_harness import lorecast

    ledger = tmp_path / "ledger" / "posts.db"
    ledger.parent.mkdir()
    (ledger.parent / f"bluesky-session-{bluesky_server.handle}.json").mkdir()  # a directory where the file goes
    code, out, err = lorecast("auth", "bluesky", env={
        "LORECAST_LEDGER": str(ledger), "LORECAST_BLUESKY_SERVICE": bluesky_server.url,
        "LORECAST_BLUESKY_HANDLE": bluesky_server.handle, "LORECAST_BLUESKY_APP_PASSWORD": bluesky_server.app_password})
    assert code == 1 and out == "" and "Traceback" not in err
    assert err.startswith(f"error: {ledger.parent / ('bluesky-session-' + bluesky_server.handle + '.json')}: ")
    assert "cannot write the Bluesky session record" in err and bluesky_server.app_password not in err
