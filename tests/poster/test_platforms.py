"""The platform clients (X, Tumblr, stdout) against the local test platform, which verifies every OAuth1
signature: posting, looking a post up, engagement, and how each failure maps to the platform errors
of lorecast/errors.py, with no secret in any message."""

from __future__ import annotations

import io
import itertools
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from platform_server import DropAfterAccept, Duplicate, PlatformServer, RateLimit, Slow, Status

from lorecast.errors import AuthRefused, DuplicatePost, PlatformError, RateLimited
from poster.credentials import OAuth1Credentials
from poster.platforms import twitter as twitter_module
from poster.platforms.base import Draft, Engagement
from poster.platforms.stdout import StdoutPlatform
from poster.platforms.tumblr import TumblrPlatform
from poster.platforms.twitter import TwitterPlatform
from poster.tid import tid

_ROW_IDS = itertools.count(1)


def draft(text: str) -> Draft:
    """A ledger row's draft of `text`, written now, with a key of its own."""
    now = datetime.now(timezone.utc)
    return Draft(text, tid(now, next(_ROW_IDS)), now)


def twitter(server: PlatformServer, credentials: OAuth1Credentials | None = None,
            timeout: float = 5.0) -> TwitterPlatform:
    return TwitterPlatform(credentials or server.twitter_credentials, api_url=server.twitter_api_url,
                           timeout=timeout)


def tumblr(server: PlatformServer, credentials: OAuth1Credentials | None = None, blog: str | None = None,
           timeout: float = 5.0) -> TumblrPlatform:
    return TumblrPlatform(credentials or server.tumblr_credentials, blog=blog or server.tumblr_blog,
                          api_url=server.tumblr_api_url, tags=("lorecast", "bot"), timeout=timeout)


def assert_clean(error: Exception, credentials: OAuth1Credentials) -> None:
    """One line, and not one of the account's keys, secrets or tokens in it."""
    message = str(error)
    assert message and "\n" not in message
    for secret in credentials.secrets():
        assert secret not in message
    assert all(secret not in repr(error) for secret in credentials.secrets())


def api_calls(server: PlatformServer, method: str, path: str) -> int:
    return sum(1 for logged in server.requests if (logged.method, logged.path) == (method, path))


# --- X ---------------------------------------------------------------------------------------------------------


def test_x_posts_and_knows_its_account(platform_server: PlatformServer) -> None:
    x = twitter(platform_server)
    post_id = x.post(draft("The bit bucket is where lost bits go."))
    [stored] = platform_server.posts("twitter")
    assert (post_id, stored.text) == (stored.id, "The bit bucket is where lost bits go.")
    assert x.account == x.account == platform_server.twitter_user.username
    assert api_calls(platform_server, "GET", "/x/2/users/me") == 1  # fetched once, then cached
    assert x.rate_limit is not None
    limit, remaining, reset_at = x.rate_limit  # of the last answer, GET /2/users/me
    assert (limit, remaining) == (platform_server.twitter_rate_limits["GET /2/users/me"], limit - 1)
    assert time.time() < reset_at <= time.time() + 15 * 60 + 1
    assert all(secret not in repr(x) for secret in platform_server.twitter_credentials.secrets())


def test_x_refuses_the_same_text_twice_as_a_duplicate(platform_server: PlatformServer) -> None:
    x = twitter(platform_server)
    x.post(draft("Never twice."))
    with pytest.raises(DuplicatePost) as caught:
        x.post(draft("Never twice."))
    assert "duplicate" in str(caught.value)
    platform_server.inject("twitter", "^/2/tweets$", Duplicate())
    with pytest.raises(DuplicatePost):
        x.post(draft("A new text that X still calls a duplicate."))
    assert len(platform_server.posts("twitter")) == 1
    assert_clean(caught.value, platform_server.twitter_credentials)


@pytest.mark.parametrize("wrong", ["consumer_secret", "access_secret", "access_token"])
def test_x_wrong_credentials_are_refused(platform_server: PlatformServer, wrong: str) -> None:
    credentials = replace(platform_server.twitter_credentials, **{wrong: "wrongwrongwrong"})
    with pytest.raises(AuthRefused) as caught:
        twitter(platform_server, credentials).post(draft("hello"))
    assert "HTTP 401" in str(caught.value)
    assert not caught.value.transient
    assert not platform_server.posts("twitter")
    assert_clean(caught.value, credentials)
    assert_clean(caught.value, platform_server.twitter_credentials)


def test_x_rate_limit_gives_the_reset_time(platform_server: PlatformServer) -> None:
    x = twitter(platform_server)
    platform_server.inject("twitter", "^/2/tweets$", RateLimit(30))
    with pytest.raises(RateLimited) as caught:
        x.post(draft("Too soon."))
    assert caught.value.transient
    assert caught.value.reset_at == pytest.approx(time.time() + 30, abs=2)
    assert x.rate_limit is not None and x.rate_limit.remaining == 0
    assert x.rate_limit.reset_at == caught.value.reset_at
    assert_clean(caught.value, platform_server.twitter_credentials)


def test_x_server_errors_are_transient_and_bad_requests_are_not(platform_server: PlatformServer) -> None:
    x = twitter(platform_server)
    platform_server.inject("twitter", "^/2/tweets$", Status(503))
    with pytest.raises(PlatformError) as caught:
        x.post(draft("Later, maybe."))
    assert type(caught.value) is PlatformError and caught.value.transient
    assert "HTTP 503" in str(caught.value)
    # Past fits(): X's own 400 comes back with X's reason, and retrying will not help.
    with pytest.raises(PlatformError) as caught:
        x.post(draft("語" * 141))
    assert type(caught.value) is PlatformError and not caught.value.transient
    assert "HTTP 400" in str(caught.value) and "too long" in str(caught.value)
    assert_clean(caught.value, platform_server.twitter_credentials)


@pytest.mark.parametrize("fault", [DropAfterAccept(), Slow(2.0)], ids=["dropped", "slow"])
def test_x_post_without_an_answer_is_transient_and_find_resolves_it(platform_server: PlatformServer,
                                                                     fault: DropAfterAccept | Slow) -> None:
    x = twitter(platform_server, timeout=0.5)
    x.post(draft("An earlier post."))
    platform_server.inject("twitter", "^/2/tweets$", fault)
    with pytest.raises(PlatformError) as caught:
        x.post(draft("Sent, but was it posted?"))
    assert type(caught.value) is PlatformError and caught.value.transient
    assert_clean(caught.value, platform_server.twitter_credentials)
    [stored] = [post for post in platform_server.posts("twitter") if post.text == "Sent, but was it posted?"]
    assert x.find(draft("Sent, but was it posted?")) == stored.id
    assert x.find(draft("Never sent.")) is None


def test_x_find_knows_a_post_with_links_by_its_original_links(platform_server: PlatformServer) -> None:
    # X shows every link as its t.co link: only the entities say what the text was.
    x = twitter(platform_server)
    text = "See https://example.org/jargon/kludge and www.example.net, then & more."
    post_id = x.post(draft(text))
    [stored] = platform_server.posts("twitter")
    assert stored.text == text and post_id == stored.id
    assert x.find(draft(text)) == post_id
    assert x.find(draft("See https://example.org/jargon/other and www.example.net, then & more.")) is None


def test_x_find_reads_further_pages_and_says_when_it_cannot_tell(platform_server: PlatformServer,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # Pages of 5 (X's smallest) and at most 2 of them, so that a few posts make a busy account.
    monkeypatch.setattr(twitter_module, "TIMELINE_SCAN", 5)
    monkeypatch.setattr(twitter_module, "LOOKUP_PAGES", 2)
    x = twitter(platform_server)
    first = draft("The first of many.")
    first_id = x.post(first)
    for number in range(7):  # the first post is on the second page
        x.post(draft(f"Filler {number}."))
    assert x.find(first) == first_id
    assert x.find(draft("Never sent.")) is None  # both pages read, no more: a sure "no"
    for number in range(7, 12):
        x.post(draft(f"Filler {number}."))
    with pytest.raises(PlatformError, match="cannot tell") as caught:
        x.find(draft("Never sent either."))  # two pages without it, and more to read
    assert not caught.value.transient  # the same pages again would tell no more


def test_x_engagement_asks_100_ids_at_a_time(platform_server: PlatformServer) -> None:
    x = twitter(platform_server)
    ids = [x.post(draft(f"Post number {number}.")) for number in range(3)]
    for number, post_id in enumerate(ids):
        platform_server.set_engagement("twitter", post_id, like_count=10 + number, retweet_count=number,
                                       reply_count=1, quote_count=2, impression_count=100 * number)
    unknown = [str(10**17 + number) for number in range(147)]  # gone from X: left out of the answer
    counts = x.engagement(ids[:2] + unknown + ids[2:])
    assert api_calls(platform_server, "GET", "/x/2/tweets") == 2
    assert counts == {
        post_id: Engagement(likes=10 + number, reposts=number, replies=1, quotes=2, impressions=100 * number)
        for number, post_id in enumerate(ids)
    }
    assert x.engagement([]) == {}


@pytest.mark.parametrize(("text", "length"), [
    ("語" * 141, 282),  # CJK counts 2
    ("a" * 270 + " 👍🏽👍🏽👍🏽👍🏽👍🏽", 281),  # every emoji sequence counts 2
    ("a" * 281, 281),
])
def test_x_fits_counts_weighted_characters(platform_server: PlatformServer, text: str, length: int) -> None:
    x = twitter(platform_server)
    assert x.fits(text) == f"{length} weighted characters, X allows 280"
    assert x.fits("") == "empty text"
    # Right at the limit, by weight: fits here, and the test platform (which counts on its own) takes it.
    at_limit = "語" * 139 + "👍🏽"
    assert x.fits(at_limit) is None
    assert x.post(draft(at_limit))


# --- Tumblr ----------------------------------------------------------------------------------------------------


def test_tumblr_posts_an_npf_text_with_tags(platform_server: PlatformServer) -> None:
    blog = tumblr(platform_server)
    post_id = blog.post(draft("A hacker's koan."))
    [stored] = platform_server.posts("tumblr")
    assert post_id == stored.id
    assert stored.content == [{"type": "text", "text": "A hacker's koan."}]
    assert stored.tags == ["lorecast", "bot"]
    assert blog.account == platform_server.tumblr_blog


def test_tumblr_find_pages_through_recent_posts(platform_server: PlatformServer) -> None:
    blog = tumblr(platform_server)
    ids = [blog.post(draft(f"Entry {number}.")) for number in range(25)]
    assert blog.find(draft("Entry 0.")) == ids[0]  # the oldest: on the second page of 20
    assert blog.find(draft("Entry 24.")) == ids[24]
    before = api_calls(platform_server, "GET", f"/tumblr/v2/blog/{platform_server.tumblr_blog}/posts")
    assert blog.find(draft("Never posted.")) is None
    after = api_calls(platform_server, "GET", f"/tumblr/v2/blog/{platform_server.tumblr_blog}/posts")
    assert after - before == 2  # stops at the short last page


def test_tumblr_engagement_is_the_note_count(platform_server: PlatformServer) -> None:
    blog = tumblr(platform_server)
    first, second = blog.post(draft("One.")), blog.post(draft("Two."))
    platform_server.set_engagement("tumblr", first, note_count=7)
    counts = blog.engagement([first, second, "999"])  # 999: no such post, left out
    assert counts == {first: Engagement(likes=7), second: Engagement()}
    assert counts[first].total == 7


def test_tumblr_refusals(platform_server: PlatformServer) -> None:
    credentials = replace(platform_server.tumblr_credentials, access_secret="wrongwrongwrong")
    with pytest.raises(AuthRefused) as caught:
        tumblr(platform_server, credentials).post(draft("hello"))
    assert "HTTP 401" in str(caught.value) and not caught.value.transient
    assert_clean(caught.value, credentials)
    with pytest.raises(AuthRefused) as caught:
        tumblr(platform_server, blog="someone-else").post(draft("hello"))  # a blog the account does not own
    assert "HTTP 403" in str(caught.value)
    assert not platform_server.posts("tumblr") and not platform_server.posts("tumblr", "someone-else")


def test_tumblr_rate_limit_and_server_errors(platform_server: PlatformServer) -> None:
    blog = tumblr(platform_server)
    platform_server.inject("tumblr", "/posts$", RateLimit(30))
    with pytest.raises(RateLimited) as caught:
        blog.post(draft("Too soon."))
    assert caught.value.reset_at == pytest.approx(time.time() + 30, abs=2)
    assert_clean(caught.value, platform_server.tumblr_credentials)
    platform_server.inject("tumblr", "/posts$", Status(502))
    with pytest.raises(PlatformError) as caught:
        blog.post(draft("Later."))
    assert type(caught.value) is PlatformError and caught.value.transient and "HTTP 502" in str(caught.value)


def test_tumblr_daily_post_limit_has_no_known_reset(platform_server: PlatformServer) -> None:
    platform_server.tumblr_daily_post_limit = 1
    blog = tumblr(platform_server)
    blog.post(draft("The one post of the day."))
    with pytest.raises(RateLimited) as caught:
        blog.post(draft("One too many."))
    assert caught.value.reset_at is None  # the hourly API limit is not what ran out
    assert "daily post limit" in str(caught.value)


def test_tumblr_dropped_post_is_transient_and_find_resolves_it(platform_server: PlatformServer) -> None:
    blog = tumblr(platform_server)
    platform_server.inject("tumblr", "/posts$", DropAfterAccept())
    with pytest.raises(PlatformError) as caught:
        blog.post(draft("Sent into the dark."))
    assert type(caught.value) is PlatformError and caught.value.transient
    [stored] = platform_server.posts("tumblr")
    assert blog.find(draft("Sent into the dark.")) == stored.id


def test_tumblr_fits_its_text_block_limit(platform_server: PlatformServer) -> None:
    blog = tumblr(platform_server)
    assert blog.fits("語" * 4096) is None
    assert blog.fits("a" * 4097) == "4097 characters, a Tumblr text block here takes 4096"
    assert blog.fits(" ") == "empty text"


# --- stdout ----------------------------------------------------------------------------------------------------


def test_stdout_prints_and_remembers_what_it_printed() -> None:
    stream = io.StringIO()
    platform = StdoutPlatform(stream=stream, account="demo")
    first = platform.post(draft("First line."))
    second = platform.post(draft("Second line."))
    assert stream.getvalue() == "First line.\nSecond line.\n"
    assert first.startswith("stdout-") and first != second
    assert platform.post(draft("First line.")) == first  # the id is the text's
    assert (platform.name, platform.account) == ("stdout", "demo")
    assert platform.find(draft("Second line.")) == second and platform.find(draft("Never printed.")) is None
    assert platform.engagement([first, "stdout-000000000000"]) == {first: Engagement()}
    assert platform.fits("x" * 10_000) is None and platform.fits("") == "empty text"


def test_stdout_writes_to_the_stdout_of_the_moment(capsys: pytest.CaptureFixture[str]) -> None:
    StdoutPlatform().post(draft("Captured."))
    assert capsys.readouterr().out == "Captured.\n"


# --- secrets in what a platform echoes back --------------------------------------------------------------------


class _EchoHandler(BaseHTTPRequestHandler):
    """Answers every request 400 with its Authorization header in the body, as a careless API might."""

    def do_GET(self) -> None:
        self._echo()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._echo()

    def _echo(self) -> None:
        echoed = self.headers.get("Authorization", "")
        body = json.dumps({"detail": f"bad header {echoed}", "meta": {"msg": f"bad header {echoed}"}}).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def echo_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_key_or_token_echoed_by_the_platform_is_scrubbed(echo_url: str) -> None:
    credentials = OAuth1Credentials("consumerkey123", "consumersecret456", "accesstoken789", "accesssecret012")
    for platform in (TwitterPlatform(credentials, api_url=echo_url, timeout=5),
                     TumblrPlatform(credentials, blog="demo", api_url=echo_url, timeout=5)):
        with pytest.raises(PlatformError) as caught:
            platform.post(draft("hello"))
        assert "HTTP 400" in str(caught.value) and "***" in str(caught.value)  # the echo came back, scrubbed
        assert_clean(caught.value, credentials)
