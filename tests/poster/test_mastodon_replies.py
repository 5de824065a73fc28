"""Mentions and replies on Mastodon against the local instance (tests/poster/mastodon_server.py), which keeps
several accounts, makes `mention` notifications as Mastodon's NotifyService does (none for oneself, none from a
muted or blocked account, unsolicited direct mentions filtered), pages them with Mastodon's Link headers (which
drop since_id) and checks in_reply_to_id, scopes and Idempotency-Key: reading mentions since a cursor across
pages, replying in the thread never wider than the mention, finding a reply again, and the errors."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import requests
from mastodon_server import MastodonServer, render
from platform_server.faults import RateLimit, Slow, Status

from lorecast.errors import AuthRefused, PlatformError, RateLimited
from poster.platforms.base import MENTION_PAGES, Draft, Mention
from poster.platforms.mastodon import MastodonPlatform, html_to_text, narrower

_KEYS = iter(f"3lb2vbyqxr{n:03d}" for n in range(1000))


def client(server: MastodonServer, token: str | None = None, **kwargs) -> MastodonPlatform:
    return MastodonPlatform(server.url, token or server.access_token, timeout=kwargs.pop("timeout", 5.0), **kwargs)


def reply_draft(mastodon: MastodonPlatform, mention: Mention, answer: str = "the lore says yes") -> Draft:
    return Draft(mastodon.reply_text(mention, answer), next(_KEYS), datetime.now(timezone.utc), reply_to=mention)


def notification_reads(server: MastodonServer) -> int:
    return sum(1 for logged in server.requests if (logged.method, logged.path) == ("GET", "/api/v1/notifications"))


@pytest.fixture
def alice(mastodon_server: MastodonServer) -> str:
    mastodon_server.add_account("alice")
    return "alice"


def test_mentions_since_a_cursor(mastodon_server: MastodonServer, alice: str) -> None:
    server = mastodon_server
    first = server.mention(alice, "@lorebot what is the bit bucket?")
    server.mention(alice, "talking to nobody in particular")  # mentions no one: no notification
    second = server.mention(alice, "and @LoreBot, where do lost bits go?")  # usernames are case-insensitive
    mastodon = client(server)
    page = mastodon.mentions(None)
    assert [mention.id for mention in page.mentions] == [first, second]  # oldest first
    notices = server.notifications()
    assert page.cursor == notices[-1].id and page.complete
    assert page.cursor not in (first, second)  # the cursor is the notification's id, not the status's
    mention = page.mentions[0]
    assert (mention.author, mention.author_id) == ("alice", server.account_id_of(alice))
    assert mention.text == "@lorebot what is the bit bucket?"
    assert (mention.parent, mention.thread, mention.refs, mention.muted) == (None, None, {"visibility": "public"},
                                                                             False)
    assert mention.created_at.tzinfo is not None
    assert mastodon.replies is True

    third = server.mention(alice, "@lorebot one more", visibility="unlisted")
    later = client(server).mentions(page.cursor)  # a later run, from the kept cursor
    assert [(m.id, m.refs) for m in later.mentions] == [(third, {"visibility": "unlisted"})]
    assert later.cursor == server.notifications()[-1].id != page.cursor and later.complete
    idle = client(server).mentions(later.cursor)
    assert (idle.mentions, idle.cursor, idle.complete) == ([], later.cursor, True)  # nothing new: the cursor stays


def test_a_gap_is_read_back_across_link_pages(mastodon_server: MastodonServer, alice: str) -> None:
    server = mastodon_server
    server.mention(alice, "@lorebot before the cursor")
    cursor = client(server).mentions(None).cursor
    written = [server.mention(alice, f"@lorebot number {n}") for n in range(95)]  # more than two pages of 40
    reads = notification_reads(server)
    page = client(server).mentions(cursor)
    assert [mention.id for mention in page.mentions] == written  # all of them, once each, oldest first
    assert page.complete and page.cursor == server.notifications()[-1].id
    assert notification_reads(server) - reads == 3  # 40 + 40 + 15, the third page reaching the cursor
    newest = client(server).mentions(None)  # a first run answers the newest page only
    assert [mention.id for mention in newest.mentions] == written[-40:] and newest.complete


def test_more_than_mention_pages_is_incomplete(mastodon_server: MastodonServer, alice: str) -> None:
    server = mastodon_server
    server.mention(alice, "@lorebot start")
    cursor = client(server).mentions(None).cursor
    written = [server.mention(alice, f"@lorebot flood {n}") for n in range(MENTION_PAGES * 40 + 5)]
    reads = notification_reads(server)
    page = client(server).mentions(cursor)
    assert not page.complete and notification_reads(server) - reads == MENTION_PAGES
    assert [mention.id for mention in page.mentions] == written[5:]  # the oldest five left out
    assert page.cursor == server.notifications()[-1].id


def test_two_bots_tell_each_other_apart_and_no_one_is_notified_of_themselves(mastodon_server: MastodonServer) -> None:
    server = mastodon_server
    lorebot = client(server)
    otherbot = client(server, server.add_account("otherbot"))
    assert lorebot.own_id == server.account_id and otherbot.own_id == server.account_id_of("otherbot")
    lorebot.post(Draft("@lorebot a note to myself", next(_KEYS), datetime.now(timezone.utc)))
    assert lorebot.mentions(None).mentions == []  # Mastodon notifies no one of their own mention
    otherbot.post(Draft("@lorebot hello from the other bot", next(_KEYS), datetime.now(timezone.utc)))
    [mention] = lorebot.mentions(None).mentions
    assert (mention.author, mention.author_id) == ("otherbot", otherbot.own_id)
    assert mention.author_id != lorebot.own_id
    reply = lorebot.post(reply_draft(lorebot, mention, "hello back"))
    [back] = otherbot.mentions(None).mentions  # the reply names @otherbot, so it notifies it
    assert (back.id, back.author_id, back.parent) == (reply, lorebot.own_id, mention.id)
    assert back.text == "@otherbot hello back"


@pytest.mark.parametrize(("configured", "mentioned", "expected"), [
    ("unlisted", "public", "unlisted"),
    ("unlisted", "unlisted", "unlisted"),
    ("public", "unlisted", "unlisted"),
    ("unlisted", "private", "private"),
    ("public", "direct", "direct"),
    ("direct", "public", "direct"),
])
def test_a_reply_goes_in_the_thread_never_wider(mastodon_server: MastodonServer, alice: str, configured: str,
                                                mentioned: str, expected: str) -> None:
    server = mastodon_server
    server.follow("lorebot", alice)  # a direct mention from an account it follows is not filtered
    status_id = server.mention(alice, "@lorebot tell me", visibility=mentioned)
    mastodon = client(server, visibility=configured)
    [mention] = mastodon.mentions(None).mentions
    assert mention.refs == {"visibility": mentioned}
    reply_id = mastodon.post(reply_draft(mastodon, mention))
    [reply] = server.posts()
    assert (reply.id, reply.in_reply_to_id, reply.in_reply_to_account_id) == (reply_id, status_id,
                                                                              server.account_id_of(alice))
    assert reply.visibility == expected and reply.text == "@alice the lore says yes"
    assert [notice.status_id for notice in server.notifications(alice)] == [reply_id]  # alice hears of it


def test_narrower_never_widens() -> None:
    order = ["public", "unlisted", "private", "direct"]
    for configured in order:
        for mentioned in order:
            assert order.index(narrower(configured, mentioned)) == max(order.index(configured),
                                                                       order.index(mentioned))
        assert narrower(configured, None) == narrower(configured, "limited") == "direct"  # unknown: the narrowest


def test_an_unsolicited_direct_mention_is_filtered_as_mastodon_does(mastodon_server: MastodonServer,
                                                                    alice: str) -> None:
    server = mastodon_server
    server.mention(alice, "@lorebot psst", visibility="direct")
    assert client(server).mentions(None).mentions == []  # 4.3's default policy filters it
    assert [notice.filtered for notice in server.notifications()] == [True]
    server.set_private_mentions("lorebot", "accept")
    direct = server.mention(alice, "@lorebot psst again", visibility="direct")
    [mention] = client(server).mentions(None).mentions
    assert (mention.id, mention.refs) == (direct, {"visibility": "direct"})
    # An answer in a direct conversation the bot started is never filtered.
    server.set_private_mentions("lorebot", "filter")
    mastodon = client(server)
    opener = mastodon.post(reply_draft(mastodon, mention, "shall we talk?"))
    answer = server.mention(alice, "@lorebot yes", in_reply_to=opener, visibility="direct")
    assert [m.id for m in client(server).mentions(None).mentions][-1] == answer
    assert server.notifications()[-1].filtered is False
    unsolicited = server.mention(alice, "@lorebot a new direct thread", visibility="direct")
    assert unsolicited not in [m.id for m in client(server).mentions(None).mentions]


def test_content_html_becomes_the_text(mastodon_server: MastodonServer, alice: str) -> None:
    server = mastodon_server
    text = ("@lorebot Fish & <chips> \"quoted\"\nline two\n\nsee https://example.org/a/very/long/path/that/goes/on "
            "#lore and @bob@remote.example")
    server.mention(alice, text)
    [mention] = client(server).mentions(None).mentions
    # The instance resolved @bob@remote.example, and shows it as @bob, as Mastodon does.
    assert mention.text == text.replace("@bob@remote.example", "@bob")
    content = render(text, server.url, {"lorebot"})
    assert '<span class="h-card"' in content and "<br />" in content and "</p><p>" in content
    assert html_to_text("<p>one<br>two</p><p>three &amp; <span>four</span></p>") == "one\ntwo\n\nthree & four"


def test_muted_and_blocked_authors_are_not_seen(mastodon_server: MastodonServer, alice: str) -> None:
    server = mastodon_server
    server.add_account("spammer")
    server.add_account("troll")
    server.mention("troll", "@lorebot before the block")
    server.mute("lorebot", "spammer")
    server.mention("spammer", "@lorebot buy now")
    kept = server.mention(alice, "@lorebot a real question")
    server.block("lorebot", "troll")  # blocking also deletes its earlier notifications
    server.mention("troll", "@lorebot after the block")
    page = client(server).mentions(None)
    assert [mention.id for mention in page.mentions] == [kept]
    assert all(not mention.muted for mention in page.mentions)
    server.mute("lorebot", "troll", notifications=False)  # a mute that keeps notifications does not hide
    server.mute("lorebot", alice, notifications=False)
    again = server.mention(alice, "@lorebot still here")
    assert [m.id for m in client(server).mentions(page.cursor).mentions] == [again]


def test_a_retried_reply_makes_one_status(mastodon_server: MastodonServer, alice: str) -> None:
    server = mastodon_server
    server.mention(alice, "@lorebot hello?")
    mastodon = client(server)
    [mention] = mastodon.mentions(None).mentions
    row = reply_draft(mastodon, mention)
    first = mastodon.post(row)
    again = client(server).post(row)  # a later run, the same ledger row
    [stored] = server.posts()
    assert first == again == stored.id and stored.idempotency_key == f"lorecast-{row.key}"
    assert stored.in_reply_to_id == mention.id
    # Keys are per account: another account's status with the same key is its own.
    other = client(server, server.add_account("otherbot"))
    assert other.post(Draft("@alice hi", row.key, row.created_at)) != first


def test_find_finds_a_reply_and_only_in_its_thread(mastodon_server: MastodonServer, alice: str) -> None:
    server = mastodon_server
    server.mention(alice, "@lorebot first question")
    server.mention(alice, "@lorebot second question")
    mastodon = client(server)
    asked, other = mastodon.mentions(None).mentions
    row = reply_draft(mastodon, asked)
    assert client(server).find(row) is None
    reply_id = mastodon.post(row)
    server.add_status("an unrelated post of the bot", visibility="public")
    assert client(server).find(row) == reply_id
    # The same text answering the other mention is not this reply.
    elsewhere = Draft(row.text, next(_KEYS), row.created_at, reply_to=other)
    assert client(server).find(elsewhere) is None


def test_a_reply_to_a_deleted_mention_is_refused_for_good(mastodon_server: MastodonServer, alice: str) -> None:
    server = mastodon_server
    status_id = server.mention(alice, "@lorebot soon gone")
    mastodon = client(server)
    [mention] = mastodon.mentions(None).mentions
    server.delete(status_id)
    with pytest.raises(PlatformError) as caught:
        mastodon.post(reply_draft(mastodon, mention))
    assert not caught.value.transient and "HTTP 404" in str(caught.value)
    assert "does not appear to exist" in str(caught.value)
    assert server.posts() == [] and server.notifications() == []  # its notification went with it


def test_notification_errors_map(mastodon_server: MastodonServer, alice: str) -> None:
    server = mastodon_server
    server.mention(alice, "@lorebot hi")
    mastodon = client(server)
    server.inject(r"^/api/v1/notifications$", RateLimit(30))
    with pytest.raises(RateLimited) as limited:
        mastodon.mentions(None)
    now = datetime.now(timezone.utc).timestamp()
    assert limited.value.reset_at is not None and now + 25 < limited.value.reset_at <= now + 31
    server.inject(r"^/api/v1/notifications$", Status(503))
    with pytest.raises(PlatformError) as unavailable:
        mastodon.mentions(None)
    assert unavailable.value.transient
    server.inject(r"^/api/v1/notifications$", Slow(3.0))
    with pytest.raises(PlatformError) as slow:
        client(server, timeout=0.3).mentions(None)
    assert slow.value.transient and "no answer within" in str(slow.value)
    # A token without read:notifications (or read) is refused: the scope is checked.
    narrow = server.issue_token("read:accounts read:statuses write:statuses")
    with pytest.raises(AuthRefused) as refused:
        client(server, narrow).mentions(None)
    assert "outside the authorized scopes" in str(refused.value)
    for token in (narrow, server.access_token):
        assert token not in str(refused.value) and token not in str(limited.value)
    assert len(client(server).mentions(None).mentions) == 1  # and the right token still reads


def test_a_bad_cursor_or_a_foreign_link_is_an_error(mastodon_server: MastodonServer) -> None:
    mastodon = client(mastodon_server)
    with pytest.raises(PlatformError, match="not a Mastodon notification id"):
        mastodon.mentions("at://did:plc:x/app.bsky.feed.post/3k")
    with pytest.raises(PlatformError, match="another site"):
        mastodon._same_instance("https://elsewhere.example/api/v1/notifications?max_id=1")


# --- the stand-in itself: what its notifications endpoint answers, as Mastodon's

def test_notifications_endpoint_pages_as_mastodon(mastodon_server: MastodonServer, alice: str) -> None:
    server = mastodon_server
    for n in range(5):
        server.mention(alice, f"@lorebot {n}")
    ids = [notice.id for notice in server.notifications()]
    url, auth = f"{server.url}/api/v1/notifications", {"Authorization": f"Bearer {server.access_token}"}
    answer = requests.get(url, params={"types[]": "mention", "limit": 2, "since_id": ids[0]}, headers=auth,
                          timeout=5)
    assert [item["id"] for item in answer.json()] == [ids[4], ids[3]]  # newest first
    assert answer.json()[0]["type"] == "mention" and answer.json()[0]["account"]["acct"] == "alice"
    following = answer.links["next"]["url"]
    assert f"max_id={ids[3]}" in following and "since_id" not in following  # since_id is not carried over
    assert "limit=2" in following and "types%5B%5D=mention" in following
    assert f"min_id={ids[4]}" in answer.links["prev"]["url"]
    forward = requests.get(url, params={"min_id": ids[0], "limit": 2}, headers=auth, timeout=5)
    assert [item["id"] for item in forward.json()] == [ids[2], ids[1]]  # the oldest after min_id, newest first
    assert len(requests.get(url, params={"limit": 500}, headers=auth, timeout=5).json()) == 5
    empty = requests.get(url, params={"since_id": ids[4]}, headers=auth, timeout=5)
    assert empty.json() == [] and "Link" not in empty.headers
    assert requests.get(url, params={"types[]": "favourite"}, headers=auth, timeout=5).json() == []
    app = server.issue_token("read", user=False)
    assert requests.get(url, headers={"Authorization": f"Bearer {app}"}, timeout=5).status_code == 422
    assert requests.get(url, timeout=5).status_code == 401
    assert "X-RateLimit-Remaining" in empty.headers


def test_in_reply_to_must_name_a_status_the_poster_may_see(mastodon_server: MastodonServer, alice: str) -> None:
    server = mastodon_server
    server.add_account("carol")
    private = server.mention(alice, "@carol just between us", visibility="direct")
    url = f"{server.url}/api/v1/statuses"
    auth = {"Authorization": f"Bearer {server.access_token}"}
    for parent in ("1234", private):  # none, and one the bot may not see
        refused = requests.post(url, json={"status": "@alice hm", "in_reply_to_id": parent}, headers=auth,
                                timeout=5)
        assert refused.status_code == 404
        assert refused.json() == {"error": "The post you are trying to reply to does not appear to exist."}
    assert server.posts() == []
    with pytest.raises(ValueError, match="cannot see"):
        server.mention("lorebot", "@alice hm", in_reply_to=private)
    with pytest.raises(KeyError, match="add_account"):
        server.mention("nobody", "@lorebot hi")
