"""The Mastodon client against the local Mastodon stand-in (tests/poster/mastodon_server.py), which checks tokens,
scopes, the text limit and Idempotency-Key as an instance does: posting and its idempotent retry, the instance's
own limit, looking a post up, engagement, and how each failure maps to the platform errors, with the token in no
message."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from mastodon_server import MastodonServer, counted_length, render
from platform_server.faults import DropAfterAccept, RateLimit, Slow, Status

from lorecast.errors import AuthRefused, PlatformError, RateLimited
from poster.platforms.base import Draft, Engagement
from poster.platforms.mastodon import MastodonPlatform, html_to_text, status_length

_KEYS = iter(f"3lb2vbyqxs{n:03d}" for n in range(1000))


def draft(text: str, created_at: datetime | None = None) -> Draft:
    return Draft(text, next(_KEYS), created_at or datetime.now(timezone.utc))


def client(server: MastodonServer, token: str | None = None, timeout: float = 5.0, **kwargs) -> MastodonPlatform:
    return MastodonPlatform(server.url, token or server.access_token, timeout=timeout, **kwargs)


def assert_clean(error: Exception, *tokens: str) -> None:
    message = str(error)
    assert message and "\n" not in message
    for token in tokens:
        assert token not in message and token not in repr(error)


def calls(server: MastodonServer, method: str, path: str) -> int:
    return sum(1 for logged in server.requests if (logged.method, logged.path) == (method, path))


def test_posts_with_the_rows_key_and_a_retry_makes_no_second_status(mastodon_server: MastodonServer) -> None:
    mastodon = client(mastodon_server)
    row = draft("The bit bucket is where lost bits go.")
    first = mastodon.post(row)
    again = client(mastodon_server).post(row)  # a later run, the same ledger row
    [stored] = mastodon_server.posts()
    assert first == again == stored.id
    assert (stored.text, stored.visibility, stored.idempotency_key) == (row.text, "unlisted", f"lorecast-{row.key}")
    assert mastodon.account == mastodon.account == mastodon_server.acct
    assert calls(mastodon_server, "GET", "/api/v1/accounts/verify_credentials") == 1  # fetched once
    other = mastodon.post(draft(row.text))  # another row with the same text is another status
    assert other != first and len(mastodon_server.posts()) == 2
    limit, remaining, reset_at = mastodon.rate_limit
    assert (limit, remaining) == (300, 300 - 4)  # four requests of the account so far
    now = datetime.now(timezone.utc).timestamp()
    assert now < reset_at <= now + 300 + 1
    assert mastodon.idempotent_create is True and mastodon.name == "mastodon"
    assert mastodon_server.access_token not in repr(mastodon)


def test_a_key_is_kept_an_hour(mastodon_server: MastodonServer) -> None:
    row = draft("Kept for an hour, as Mastodon keeps keys.")
    mastodon = client(mastodon_server)
    first = mastodon.post(row)
    mastodon_server.advance_clock(3601)
    assert mastodon.post(row) != first  # past the hour the instance has forgotten the key: why the run looks first
    assert len(mastodon_server.posts()) == 2


def test_visibility_is_sent(mastodon_server: MastodonServer) -> None:
    client(mastodon_server, visibility="public").post(draft("Out in the open."))
    assert [status.visibility for status in mastodon_server.posts()] == ["public"]
    with pytest.raises(ValueError, match="visibility"):
        client(mastodon_server, visibility="everyone")


def test_fits_takes_the_instances_own_limit(mastodon_server: MastodonServer) -> None:
    mastodon_server.max_characters = 40
    mastodon = client(mastodon_server)
    assert mastodon.fits("x" * 40) is None
    assert mastodon.fits("x" * 41) == f"41 characters, {mastodon_server.url.split('//')[1]} allows 40"
    link = "https://example.org/" + "a" * 100  # a link counts 23, however long
    assert mastodon.fits(f"see {link} now " + "y" * 8) is None  # 4 + 23 + 5 + 8 = 40
    assert mastodon.fits(f"see {link} now " + "y" * 9) is not None
    assert mastodon.fits("") == "empty text" and mastodon.fits(" \n") == "empty text"
    assert calls(mastodon_server, "GET", "/api/v2/instance") == 1  # fetched once
    # What fits posts, and what does not is refused by the instance too (422, not retried).
    mastodon.post(draft("x" * 40))
    with pytest.raises(PlatformError) as caught:
        mastodon.post(draft("x" * 41))
    assert not caught.value.transient and "character limit of 40 exceeded" in str(caught.value)
    assert len(mastodon_server.posts()) == 1


def test_fits_counts_as_the_instance_counts(mastodon_server: MastodonServer) -> None:
    mastodon_server.max_characters = 10
    mastodon = client(mastodon_server)
    texts = ["e\u0301" * 10, "👨\u200d👩\u200d👧" * 10, "🇫🇷" * 10, "👍🏽" * 10, "ab\r\ncd" * 2,
             "@bob@example.org hello"]
    for text in texts:
        assert status_length(text) == counted_length(text) == 10, text
        assert mastodon.fits(text) is None
        mastodon.post(draft(text))
    assert len(mastodon_server.posts()) == len(texts)
    assert mastodon.fits("e\u0301" * 11) == f"11 characters, {mastodon_server.url.split('//')[1]} allows 10"


def test_an_instance_that_does_not_say_gets_mastodons_default(mastodon_server: MastodonServer) -> None:
    mastodon_server.max_characters = None
    mastodon = client(mastodon_server)
    assert mastodon.fits("x" * 500) is None and mastodon.fits("x" * 501) is not None


def test_find_reads_the_html_back(mastodon_server: MastodonServer) -> None:
    mastodon = client(mastodon_server)
    text = ("Fish & chips <b>bold</b> \"quoted\"\n\nsee https://example.org/a/very/long/path/that/goes/on?x=1&y=2 "
            "#lore\nnext line")
    row = draft(text)
    status_id = mastodon.post(row)
    assert html_to_text(render(text, mastodon_server.url)) == text
    assert mastodon.find(row) == status_id
    assert mastodon.find(draft("A text never posted.")) is None
    assert mastodon.find(draft("  " + text + "\n")) == status_id  # compared as platform_form has it
    assert mastodon.find(Draft(text.replace("\n\n", "\n\n\n"), row.key, row.created_at)) == status_id


def test_find_knows_a_status_whose_remote_mention_is_shown_short(mastodon_server: MastodonServer) -> None:
    # Mastodon shows @bob@example.org as @bob once it resolved the account: the content never holds the host.
    mastodon = client(mastodon_server)
    row = draft("Hello @bob@example.org, the daemon says hi.")
    status_id = mastodon.post(row)
    assert "example.org" not in html_to_text(render(row.text, mastodon_server.url))
    assert mastodon.find(row) == status_id


def test_find_pages_back_and_stops_at_older_statuses(mastodon_server: MastodonServer) -> None:
    mastodon = client(mastodon_server)
    wanted = draft("The one to find.")
    wanted_id = mastodon.post(wanted)
    for number in range(85):  # newer statuses push it three pages down
        mastodon_server.add_status(f"Filler {number}")
    assert mastodon.find(wanted) == wanted_id
    assert calls(mastodon_server, "GET", f"/api/v1/accounts/{mastodon_server.account_id}/statuses") == 3
    # A draft written after every status: the first page already holds older ones, so the lookup stops there.
    mastodon_server.advance_clock(3600)
    later = draft("Never sent.", datetime.now(timezone.utc) + timedelta(hours=1))
    before = len(mastodon_server.requests)
    assert mastodon.find(later) is None
    assert len(mastodon_server.requests) - before == 1


def test_find_that_is_refused_raises(mastodon_server: MastodonServer) -> None:
    mastodon = client(mastodon_server)
    row = draft("Posted, then the lookup fails.")
    mastodon.post(row)
    mastodon_server.inject(r"/statuses$", Status(503))
    with pytest.raises(PlatformError) as caught:
        mastodon.find(row)
    assert caught.value.transient
    write_only = mastodon_server.issue_token("write:statuses")
    with pytest.raises(AuthRefused) as refused:
        client(mastodon_server, write_only).find(row)  # verify_credentials needs read
    assert "outside the authorized scopes" in str(refused.value)
    assert_clean(refused.value, write_only)


def test_engagement(mastodon_server: MastodonServer) -> None:
    mastodon = client(mastodon_server)
    first, second = mastodon.post(draft("One.")), mastodon.post(draft("Two."))
    mastodon_server.set_engagement(first, favourites_count=5, reblogs_count=2, replies_count=1)
    mastodon_server.delete(second)
    counts = mastodon.engagement([first, second, first])
    assert counts == {first: Engagement(likes=5, reposts=2, replies=1)}
    assert calls(mastodon_server, "GET", "/api/v1/statuses") == 1  # one multi-get


def test_engagement_in_batches_and_on_an_instance_before_4_3(mastodon_server: MastodonServer) -> None:
    mastodon = client(mastodon_server)
    ids = [mastodon_server.add_status(f"Status {n}") for n in range(25)]
    mastodon_server.set_engagement(ids[24], favourites_count=7)
    counts = mastodon.engagement(ids)
    assert len(counts) == 25 and counts[ids[24]].likes == 7
    assert calls(mastodon_server, "GET", "/api/v1/statuses") == 2  # 20 a request

    mastodon_server.multi_get = False
    older = client(mastodon_server)
    mastodon_server.delete(ids[0])
    counts = older.engagement(ids[:3] + ["999"])
    assert sorted(counts) == sorted(ids[1:3])
    assert calls(mastodon_server, "GET", "/api/v1/statuses") == 3  # tried once, then one by one
    assert calls(mastodon_server, "GET", f"/api/v1/statuses/{ids[1]}") == 1


def test_rate_limited_gives_the_reset_time(mastodon_server: MastodonServer) -> None:
    mastodon = client(mastodon_server)
    mastodon_server.inject(r"^/api/v1/statuses$", RateLimit(30))
    before = datetime.now(timezone.utc).timestamp()
    with pytest.raises(RateLimited) as caught:
        mastodon.post(draft("Too soon."))
    assert before + 29 <= caught.value.reset_at <= before + 32
    assert caught.value.transient and "resets at" in str(caught.value)
    assert mastodon.rate_limit.remaining == 0
    assert not mastodon_server.posts()

    mastodon_server.rate_limit = 2  # the instance's own limit, counted per account
    mastodon.post(draft("One more."))
    with pytest.raises(RateLimited) as limited:
        mastodon.post(draft("Past the limit."))
    assert "Too many requests" in str(limited.value)
    assert_clean(limited.value, mastodon_server.access_token)


def test_tokens_refused(mastodon_server: MastodonServer) -> None:
    read_only = mastodon_server.issue_token("read")
    with pytest.raises(AuthRefused) as scope:
        client(mastodon_server, read_only).post(draft("Not with a read token."))
    assert "HTTP 403" in str(scope.value) and "read write:statuses" in str(scope.value)
    assert "lorecast auth mastodon" in str(scope.value)
    assert_clean(scope.value, read_only)

    mastodon_server.revoke(mastodon_server.access_token)
    with pytest.raises(AuthRefused) as revoked:
        client(mastodon_server).post(draft("Revoked."))
    assert "HTTP 401" in str(revoked.value) and "revoked" in str(revoked.value)
    assert_clean(revoked.value, mastodon_server.access_token)
    with pytest.raises(AuthRefused):
        client(mastodon_server, "not-a-token-at-all").account
    assert not mastodon_server.posts()


def test_slow_answer_past_the_timeout_is_transient_and_the_status_is_out(mastodon_server: MastodonServer) -> None:
    mastodon = client(mastodon_server, timeout=0.5)
    row = draft("Sent, but the answer came too late.")
    mastodon_server.inject(r"^/api/v1/statuses$", Slow(3.0))
    with pytest.raises(PlatformError) as caught:
        mastodon.post(row)
    assert caught.value.transient and "within 0.5 s" in str(caught.value)
    [stored] = mastodon_server.posts()
    assert mastodon.find(row) == stored.id
    assert mastodon.post(row) == stored.id  # the retry the run may make: no second status
    assert len(mastodon_server.posts()) == 1
    assert_clean(caught.value, mastodon_server.access_token)


def test_dropped_connection_and_server_errors_are_transient(mastodon_server: MastodonServer) -> None:
    mastodon = client(mastodon_server)
    row = draft("The connection dropped after the instance took it.")
    mastodon_server.inject(r"^/api/v1/statuses$", DropAfterAccept())
    with pytest.raises(PlatformError) as dropped:
        mastodon.post(row)
    assert dropped.value.transient
    assert len(mastodon_server.posts()) == 1
    assert mastodon.post(row) == mastodon_server.posts()[0].id
    mastodon_server.inject(r"^/api/v1/statuses$", Status(502))
    with pytest.raises(PlatformError) as bad_gateway:
        mastodon.post(draft("Again."))
    assert bad_gateway.value.transient and "HTTP 502" in str(bad_gateway.value)
    for error in (dropped.value, bad_gateway.value):
        assert_clean(error, mastodon_server.access_token)


def test_an_unreachable_instance_is_one_transient_line() -> None:
    mastodon = MastodonPlatform("http://127.0.0.1:1", "some-token-1234", timeout=2)
    with pytest.raises(PlatformError) as caught:
        mastodon.post(draft("Nowhere."))
    assert caught.value.transient
    assert str(caught.value) == "127.0.0.1:1: POST /api/v1/statuses failed: Connection refused"
