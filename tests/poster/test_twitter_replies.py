"""The `twitter` platform's replies (poster/platforms/twitter.py) against the X stand-in (platform_server), which
verifies every OAuth1 signature: reading mentions since a cursor and across pages, replying in the mention's
thread, finding a reply again, the errors of the mentions timeline, and what the reads bill; and the stand-in's
own checks on the mentions timeline and on replies."""

from __future__ import annotations

import itertools
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from platform_server import PlatformServer, RateLimit, Status
from requests_oauthlib import OAuth1Session

from lorecast.errors import AuthRefused, PlatformError, RateLimited
from poster.costs import Meter
from poster.credentials import OAuth1Credentials
from poster.ledger import Ledger
from poster.platforms import twitter as twitter_module
from poster.platforms.base import MENTION_PAGES, Draft, Mention
from poster.platforms.twitter import TwitterPlatform
from poster.tid import tid

_ROW_IDS = itertools.count(1)


def draft(text: str, reply_to: Mention | None = None) -> Draft:
    now = datetime.now(timezone.utc)
    return Draft(text, tid(now, next(_ROW_IDS)), now, reply_to=reply_to)


def twitter(server: PlatformServer, credentials: OAuth1Credentials | None = None,
            meter: Meter | None = None) -> TwitterPlatform:
    return TwitterPlatform(credentials or server.twitter_credentials, api_url=server.twitter_api_url, timeout=5.0,
                           meter=meter)


def mention_reads(server: PlatformServer) -> int:
    """Signed requests X got for the test account's mentions timeline."""
    path = f"/x/2/users/{server.twitter_user.id}/mentions"
    return sum(1 for logged in server.requests if (logged.method, logged.path, logged.signed_ok) == ("GET", path, True))


def session(credentials: OAuth1Credentials) -> OAuth1Session:
    return OAuth1Session(credentials.consumer_key, client_secret=credentials.consumer_secret,
                         resource_owner_key=credentials.access_token,
                         resource_owner_secret=credentials.access_secret)


# --- reading mentions ---------------------------------------------------------------------------------------------


def test_mentions_since_a_cursor(platform_server: PlatformServer) -> None:
    x = twitter(platform_server)
    first = [platform_server.add_mention("alice", f"question {n}") for n in range(3)]
    alice = platform_server.add_twitter_user("alice")

    page = x.mentions(None)
    later = [platform_server.add_mention("bob", f"later {n}") for n in range(2)]
    newer = x.mentions(page.cursor)
    quiet = x.mentions(newer.cursor)

    assert [mention.id for mention in page.mentions] == first and page.cursor == first[-1] and page.complete
    oldest = page.mentions[0]
    assert (oldest.author, oldest.author_id) == ("alice", alice.id)
    assert oldest.text == "@lorecast_test question 0"  # the stand-in put the mention in front
    assert oldest.thread == oldest.id and oldest.parent is None  # it starts a thread of its own
    assert oldest.created_at.tzinfo is not None and abs(oldest.created_at.timestamp() - time.time()) < 60
    assert [mention.id for mention in newer.mentions] == later and newer.cursor == later[-1] and newer.complete
    assert {mention.author for mention in newer.mentions} == {"bob"}
    assert quiet.mentions == [] and quiet.cursor == newer.cursor and quiet.complete
    assert mention_reads(platform_server) == 3  # the account's own mentions, one page each


def test_mentions_follow_the_pages_back_to_the_cursor(platform_server: PlatformServer) -> None:
    x = twitter(platform_server)
    seen = x.mentions(None)  # nothing yet: the cursor stays None
    cursor = platform_server.add_mention("alice", "the one already answered")
    gap = [platform_server.add_mention("alice", f"while the bot slept {n}") for n in range(150)]

    page = x.mentions(cursor)

    assert seen.mentions == [] and seen.cursor is None
    assert [mention.id for mention in page.mentions] == gap  # oldest first, none twice, the cursor's left out
    assert page.cursor == gap[-1] and page.complete
    assert mention_reads(platform_server) == 1 + 2  # 100 a page: two pages reach back to the cursor


def test_a_first_read_takes_the_newest_page_only(platform_server: PlatformServer) -> None:
    ids = [platform_server.add_mention("alice", f"history {n}") for n in range(105)]

    page = twitter(platform_server).mentions(None)

    assert [mention.id for mention in page.mentions] == ids[5:] and page.cursor == ids[-1] and page.complete
    assert mention_reads(platform_server) == 1


def test_the_page_cap_leaves_the_oldest_out(platform_server: PlatformServer,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(twitter_module, "MENTION_SCAN", 5)  # X's smallest page, so that the cap comes soon
    cursor = platform_server.add_mention("alice", "answered")
    ids = [platform_server.add_mention("alice", f"flood {n}") for n in range(5 * MENTION_PAGES + 7)]

    page = twitter(platform_server).mentions(cursor)

    assert [mention.id for mention in page.mentions] == ids[7:]
    assert page.cursor == ids[-1] and not page.complete
    assert mention_reads(platform_server) == MENTION_PAGES


def test_the_accounts_own_posts_come_with_its_own_id(platform_server: PlatformServer) -> None:
    x = twitter(platform_server)
    own = x.post(draft("a note to @lorecast_test itself"))
    other = platform_server.add_mention("alice", "hello")

    page = x.mentions(None)

    assert [(mention.id, mention.author_id == x.own_id) for mention in page.mentions] == [(own, True), (other, False)]
    assert x.own_id == platform_server.twitter_user.id and page.mentions[0].author == "lorecast_test"


def test_a_second_bots_post_is_a_mention(platform_server: PlatformServer) -> None:
    other_bot = twitter(platform_server, platform_server.twitter_credentials_for("other_bot"))
    x = twitter(platform_server)

    said = other_bot.post(draft("hi @lorecast_test, tell me a story"))
    [mention] = x.mentions(None).mentions

    assert other_bot.account == "other_bot" and other_bot.own_id != x.own_id
    assert (mention.id, mention.author, mention.author_id) == (said, "other_bot", other_bot.own_id)
    assert [post.text for post in platform_server.posts("twitter", "other_bot")] == [
        "hi @lorecast_test, tell me a story"]


# --- replying -----------------------------------------------------------------------------------------------------


def test_a_reply_goes_into_the_mentions_thread_and_is_found_again(platform_server: PlatformServer) -> None:
    x = twitter(platform_server)
    root = platform_server.add_mention("alice", "what is the lore?")
    platform_server.add_mention("bob", "and why?", in_reply_to=root)
    mention = x.mentions(None).mentions[-1]
    reply = draft(x.reply_text(mention, "because the fire fades"), reply_to=mention)
    same_words = draft(reply.text)  # a post of its own with the reply's text is another post

    assert (mention.author, mention.thread, mention.parent) == ("bob", root, root)
    assert x.find(reply) is None  # not sent yet
    reply_id = x.post(reply)

    [posted] = [post for post in platform_server.posts("twitter") if post.id == reply_id]
    assert (posted.in_reply_to, posted.conversation_id) == (mention.id, root)
    # X put the thread's other author in front of the text the bot sent; find() still knows its reply.
    assert posted.text == "@alice @bob because the fire fades"
    assert x.find(reply) == reply_id
    assert x.find(same_words) is None


def test_a_plain_post_still_goes_out_without_a_reply(platform_server: PlatformServer) -> None:
    x = twitter(platform_server)

    post_id = x.post(draft("words of my own"))

    [posted] = platform_server.posts("twitter")
    assert posted.id == post_id and posted.in_reply_to is None and posted.conversation_id == post_id


def test_a_reply_to_a_post_that_is_gone_is_refused_but_not_as_auth(platform_server: PlatformServer) -> None:
    x = twitter(platform_server)
    gone = Mention(id="1234567", author="alice", author_id="1", text="@lorecast_test hi",
                   created_at=datetime.now(timezone.utc))

    with pytest.raises(PlatformError) as refused:
        x.post(draft("@alice hello", reply_to=gone))

    assert not isinstance(refused.value, AuthRefused) and not refused.value.transient
    assert "deleted or not visible" in str(refused.value) and "\n" not in str(refused.value)
    assert platform_server.posts("twitter") == []


# --- failures and billing -----------------------------------------------------------------------------------------


def test_a_rate_limited_mentions_read_says_when_it_resets(platform_server: PlatformServer) -> None:
    platform_server.inject("x", r"/mentions$", RateLimit(30))
    x = twitter(platform_server)

    with pytest.raises(RateLimited) as limited:
        x.mentions("1790000000000000001")

    assert limited.value.reset_at is not None and time.time() + 25 < limited.value.reset_at <= time.time() + 31
    message = str(limited.value)
    assert "/mentions" in message and "\n" not in message
    assert all(secret not in message for secret in platform_server.twitter_credentials.secrets())


@pytest.mark.parametrize(("status", "kind", "transient"), [(503, PlatformError, True), (401, AuthRefused, False),
                                                            (400, PlatformError, False)])
def test_mentions_errors_map_like_every_call(platform_server: PlatformServer, status: int,
                                             kind: type[PlatformError], transient: bool) -> None:
    platform_server.inject("x", r"/mentions$", Status(status))

    with pytest.raises(kind) as failed:
        twitter(platform_server).mentions(None)

    assert failed.value.transient is transient


def test_a_bad_cursor_is_xs_400(platform_server: PlatformServer) -> None:
    with pytest.raises(PlatformError) as refused:
        twitter(platform_server).mentions("not-an-id")

    assert not refused.value.transient and "since_id" in str(refused.value)


def test_a_limit_met_on_a_later_page_raises_and_the_pages_read_stay_billed(platform_server: PlatformServer,
                                                                          tmp_path: Path) -> None:
    platform_server.twitter_rate_limits["GET /2/users/:id/mentions"] = 1  # the second page is over the limit
    cursor = platform_server.add_mention("alice", "answered")
    for n in range(120):
        platform_server.add_mention("alice", f"more {n}")
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        x = twitter(platform_server, meter=Meter(ledger, "twitter"))
        with pytest.raises(RateLimited):
            x.mentions(cursor)  # nothing returned: the next run reads from the same cursor again
        billed = {kind: (calls, units) for *_, kind, calls, units, _ in ledger.costs("twitter")}

    assert mention_reads(platform_server) == 2
    assert billed == {"read": (2, 1 + 100 + 1)}  # the user lookup, then the first page: 100 posts and alice


def test_mention_reads_are_billed_per_post_and_user_read(platform_server: PlatformServer, tmp_path: Path) -> None:
    for n in range(3):
        platform_server.add_mention("alice", f"from alice {n}")
    platform_server.add_mention("bob", "from bob")
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        x = twitter(platform_server, meter=Meter(ledger, "twitter"))
        page = x.mentions(None)
        x.mentions(page.cursor)  # nothing new: nothing billed
        billed = {kind: (calls, units) for *_, kind, calls, units, _ in ledger.costs("twitter")}

    assert len(page.mentions) == 4
    # GET /2/users/me (1 user), then one mentions page: 4 posts and the 2 users they came with.
    assert billed == {"read": (2, 1 + 4 + 2)}


# --- the stand-in's own checks ------------------------------------------------------------------------------------


@pytest.fixture
def signed(platform_server: PlatformServer) -> OAuth1Session:
    return session(platform_server.twitter_credentials)


def mentions_url(server: PlatformServer, user_id: str | None = None) -> str:
    return f"{server.twitter_api_url}/2/users/{user_id or server.twitter_user.id}/mentions"


@pytest.mark.parametrize(("params", "wording"), [
    ({"max_results": 4}, "is not between 5 and 100"),
    ({"max_results": 101}, "is not between 5 and 100"),
    ({"since_id": "abc"}, "The `since_id` query parameter value [abc] is not valid"),
    ({"pagination_token": "page-2"}, "pagination_token"),
    ({"count": 5}, "The query parameter [count] is not one of"),
    ({"start_time": "2026-01-01T00:00:00Z"}, "does not implement"),
    ({"tweet.fields": "author_id,mood"}, "[mood] is not valid"),
    ({"expansions": "geo.place_id"}, "[geo.place_id] is not valid"),
])
def test_the_mentions_timeline_refuses_bad_parameters_as_x_does(platform_server: PlatformServer,
                                                                signed: OAuth1Session, params: dict,
                                                                wording: str) -> None:
    answer = signed.get(mentions_url(platform_server), params=params)

    assert answer.status_code == 400
    body = answer.json()
    assert body["title"] == "Invalid Request" and wording in body["errors"][0]["message"]
    assert answer.headers["x-rate-limit-limit"] == str(platform_server.twitter_rate_limits["GET /2/users/:id/mentions"])


def test_the_mentions_timeline_is_signed_newest_first_and_paged(platform_server: PlatformServer,
                                                                signed: OAuth1Session) -> None:
    ids = [platform_server.add_mention("alice", f"m {n}") for n in range(7)]
    unsigned = OAuth1Session("nobody1234", client_secret="wrongsecret1").get(mentions_url(platform_server))

    first = signed.get(mentions_url(platform_server), params={
        "max_results": 5, "expansions": "author_id", "tweet.fields": "author_id,conversation_id"}).json()
    late = platform_server.add_mention("bob", "posted between two pages")
    second = signed.get(mentions_url(platform_server),
                        params={"max_results": 5, "pagination_token": first["meta"]["next_token"]}).json()
    since = signed.get(mentions_url(platform_server), params={"since_id": ids[-1]}).json()

    assert unsigned.status_code == 401
    assert [item["id"] for item in first["data"] + second["data"]] == ids[::-1]  # the late one shifts nothing
    assert first["meta"] == {"result_count": 5, "newest_id": ids[-1], "oldest_id": ids[2],
                             "next_token": first["meta"]["next_token"]}
    assert "next_token" not in second["meta"] and "includes" not in second
    assert first["includes"]["users"] == [{"id": platform_server.add_twitter_user("alice").id, "name": "alice",
                                           "username": "alice"}]
    assert first["data"][0]["conversation_id"] == ids[-1]
    assert [item["id"] for item in since["data"]] == [late]
    empty = signed.get(mentions_url(platform_server), params={"since_id": late}).json()
    assert empty == {"meta": {"result_count": 0}}


def test_the_mentions_timeline_serves_only_the_800_newest(platform_server: PlatformServer,
                                                          signed: OAuth1Session) -> None:
    ids = [platform_server.add_mention("alice", f"old {n}") for n in range(805)]
    params: dict = {"max_results": 100, "since_id": ids[0]}
    seen: list[str] = []
    while True:
        page = signed.get(mentions_url(platform_server), params=params).json()
        seen += [item["id"] for item in page.get("data", [])]
        if "next_token" not in page["meta"]:
            break
        params["pagination_token"] = page["meta"]["next_token"]

    assert seen == ids[:4:-1]  # the 5 oldest are past X's history, even though since_id asks for them


def test_a_reply_must_name_a_tweet(platform_server: PlatformServer, signed: OAuth1Session) -> None:
    url = f"{platform_server.twitter_api_url}/2/tweets"

    missing = signed.post(url, json={"text": "hi", "reply": {"in_reply_to_tweet_id": "99"}})
    not_an_id = signed.post(url, json={"text": "hi", "reply": {"in_reply_to_tweet_id": 99}})
    extra = signed.post(url, json={"text": "hi", "reply": {"in_reply_to_tweet_id": "99", "x": 1}})

    assert missing.status_code == 403 and missing.json()["detail"] == (
        "You attempted to reply to a Tweet that is deleted or not visible to you.")
    assert not_an_id.status_code == 400 and extra.status_code == 400
    assert platform_server.posts("twitter") == []


def test_a_reply_lists_its_thread_fields(platform_server: PlatformServer, signed: OAuth1Session) -> None:
    root = platform_server.add_mention("alice", "start")
    answer = signed.post(f"{platform_server.twitter_api_url}/2/tweets",
                         json={"text": "@alice an answer", "reply": {"in_reply_to_tweet_id": root}})
    reply_id = answer.json()["data"]["id"]
    fields = "conversation_id,referenced_tweets,in_reply_to_user_id,author_id"

    [looked_up] = signed.get(f"{platform_server.twitter_api_url}/2/tweets",
                             params={"ids": reply_id, "tweet.fields": fields}).json()["data"]
    timeline_url = f"{platform_server.twitter_api_url}/2/users/{platform_server.twitter_user.id}/tweets"
    with_replies = signed.get(timeline_url, params={"tweet.fields": fields}).json()
    without = signed.get(timeline_url, params={"exclude": "replies"}).json()
    alice_mentions = signed.get(mentions_url(platform_server, platform_server.add_twitter_user("alice").id)).json()

    assert answer.status_code == 201 and answer.json()["data"]["text"] == "@alice an answer"
    assert looked_up["conversation_id"] == root and looked_up["referenced_tweets"] == [
        {"type": "replied_to", "id": root}]
    assert looked_up["in_reply_to_user_id"] == platform_server.add_twitter_user("alice").id
    assert looked_up["author_id"] == platform_server.twitter_user.id
    assert [item["id"] for item in with_replies["data"]] == [reply_id] and without == {"meta": {"result_count": 0}}
    assert [item["id"] for item in alice_mentions["data"]] == [reply_id]  # the bot's reply mentions alice


def test_faults_apply_to_the_mentions_timeline(platform_server: PlatformServer, signed: OAuth1Session) -> None:
    platform_server.inject("x", r"/mentions$", Status(502))

    failed = signed.get(mentions_url(platform_server))
    then = signed.get(mentions_url(platform_server))

    assert failed.status_code == 502 and failed.json()["title"] == "Bad Gateway"
    assert then.status_code == 200 and then.json() == {"meta": {"result_count": 0}}
