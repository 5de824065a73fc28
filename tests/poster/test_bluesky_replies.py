"""Mentions and replies of the bluesky platform against the local stand-in (tests/poster/bluesky_server.py), whose
notifications follow Bluesky's AppView: a mention facet or an answer to one of the bot's posts notifies it, pages
go newest first with a cursor strictly older, the authors the bot mutes or blocks are left out. Mentions since a
cursor (ties of one millisecond included), pages followed back to the cursor and at most MENTION_PAGES of them,
the fields a reply needs, replies in the right thread with a mention facet whose bytes are right, crash recovery
of a reply, muted authors, and the errors."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from bluesky_server import BlueskyServer
from platform_server.faults import DropAfterAccept, RateLimit

from lorecast.errors import PlatformError, RateLimited
from poster.bluesky_session import session_path
from poster.bluesky_text import LINK_FEATURE, MENTION_FEATURE, mention_facet
from poster.platforms.base import MENTION_PAGES, Draft, Mention
from poster.platforms.bluesky import COLLECTION, NOTIFICATIONS, BlueskyPlatform
from poster.tid import tid

# Posts of the other accounts are dated in the past: the AppView sorts a notification by the earlier of when the
# post came in and its createdAt, so these times order them exactly.
BASE = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=2)


def at(seconds: float) -> datetime:
    return BASE + timedelta(seconds=seconds)


def platform(server: BlueskyServer, directory: Path, handle: str | None = None) -> BlueskyPlatform:
    account = server.account(handle or server.handle)
    return BlueskyPlatform(server.url, account.handle, account.app_password,
                           session_path(directory / account.handle / "posts.db", account.handle), timeout=5.0)


def draft(text: str, n: int, reply_to: Mention | None = None) -> Draft:
    when = at(3600 + n)
    return Draft(text=text, key=tid(when, n), created_at=when, reply_to=reply_to)


def reply_draft(bsky: BlueskyPlatform, mention: Mention, answer: str, n: int) -> Draft:
    return draft(bsky.reply_text(mention, answer), n, reply_to=mention)


def listing_reads(server: BlueskyServer) -> int:
    return sum(1 for entry in server.requests if entry[1] == f"/xrpc/{NOTIFICATIONS}")


@pytest.fixture
def server(bluesky_server: BlueskyServer) -> BlueskyServer:
    for handle in ("alice.test", "bob.test", "carol.test"):
        bluesky_server.add_account(handle)
    return bluesky_server


# --- reading mentions


def test_mentions_and_replies_come_oldest_first_with_what_a_reply_needs(server: BlueskyServer,
                                                                          tmp_path: Path) -> None:
    bsky = platform(server, tmp_path)
    own = bsky.post(draft("a post of the bot's", 1))
    top = server.mention("alice.test", "hey @lorecastbot.test, tell me one", created_at=at(10))
    answer = server.mention("bob.test", "what a post", reply_to_uri=own, created_at=at(20))
    server.mention("alice.test", "no one named here", created_at=at(30))  # notifies no one
    elsewhere = server.mention("carol.test", "@lorecastbot.test look at this", reply_to_uri=top, created_at=at(40))
    server.mention("alice.test", "lorecastbot.test is named without an @ and a facet", created_at=at(50))

    page = bsky.mentions(None)
    assert [m.id for m in page.mentions] == [top, answer, elsewhere] and page.complete
    first, second, third = page.mentions
    alice, bob, carol = (server.account(h) for h in ("alice.test", "bob.test", "carol.test"))
    assert (first.author, first.author_id) == ("alice.test", alice.did)
    assert first.text == "hey @lorecastbot.test, tell me one"
    assert first.created_at == at(10) and first.created_at.tzinfo is not None
    assert (first.thread, first.parent, first.muted) == (None, None, False)
    assert first.refs == {"cid": server.record(top).cid, "root_uri": top, "root_cid": server.record(top).cid}
    assert (second.author_id, second.thread, second.parent) == (bob.did, own, own)
    assert second.refs == {"cid": server.record(answer).cid, "root_uri": own, "root_cid": server.record(own).cid}
    assert (third.author_id, third.thread, third.parent) == (carol.did, top, top)  # a mention in alice's thread
    assert third.refs["root_uri"] == top and third.refs["root_cid"] == server.record(top).cid
    assert bsky.own_id == server.did == bsky.session.did and bsky.replies is True
    assert page.cursor is not None and page.cursor.startswith(at(40).strftime("%Y-%m-%dT%H:%M:%S.000000Z|"))


def test_since_a_cursor_only_newer_mentions_and_the_cursor_stays_when_none(server: BlueskyServer,
                                                                              tmp_path: Path) -> None:
    bsky = platform(server, tmp_path)
    old = server.mention("alice.test", "@lorecastbot.test one", created_at=at(1))
    first = bsky.mentions(None)
    assert [m.id for m in first.mentions] == [old]
    new = [server.mention("bob.test", f"@lorecastbot.test {n}", created_at=at(10 + n)) for n in range(3)]
    second = bsky.mentions(first.cursor)
    assert [m.id for m in second.mentions] == new and second.complete
    third = bsky.mentions(second.cursor)
    assert (third.mentions, third.cursor, third.complete) == ([], second.cursor, True)
    assert bsky.mentions(None).cursor == second.cursor  # the newest page: the same newest mention


def test_mentions_of_one_millisecond_are_neither_missed_nor_repeated(server: BlueskyServer, tmp_path: Path) -> None:
    bsky = platform(server, tmp_path)
    same = at(5)
    pair = [server.mention(h, "@lorecastbot.test tie", created_at=same) for h in ("alice.test", "bob.test")]
    first = bsky.mentions(None)
    assert sorted(m.id for m in first.mentions) == sorted(pair)
    late = server.mention("carol.test", "@lorecastbot.test late tie", created_at=same)  # came in later, same time
    second = bsky.mentions(first.cursor)
    assert [m.id for m in second.mentions] == [late]
    assert bsky.mentions(second.cursor).mentions == []
    assert set(second.cursor.split("|")[1:]) == {*pair, late}


def test_pages_are_followed_back_to_the_cursor(server: BlueskyServer, tmp_path: Path) -> None:
    bsky = platform(server, tmp_path)
    server.mention("alice.test", "@lorecastbot.test before", created_at=at(1))
    cursor = bsky.mentions(None).cursor
    newer = [server.mention("bob.test", f"@lorecastbot.test {n}", created_at=at(10 + n)) for n in range(120)]
    reads = listing_reads(server)
    page = bsky.mentions(cursor)
    assert [m.id for m in page.mentions] == newer and page.complete  # 50 + 50 + 20, the gap closed
    assert listing_reads(server) - reads == 3
    assert page.cursor.split("|")[1:] == [newer[-1]]


def test_short_pages_with_a_cursor_are_followed(server: BlueskyServer, tmp_path: Path) -> None:
    # The AppView leaves muted authors out of each page it read: a page can hold a few and still go on.
    bsky = platform(server, tmp_path)
    server.mention("alice.test", "@lorecastbot.test before", created_at=at(1))
    cursor = bsky.mentions(None).cursor
    server.mute("carol.test")
    wanted = [server.mention("bob.test", "@lorecastbot.test early", created_at=at(10))]
    for n in range(600):
        server.mention("carol.test", f"@lorecastbot.test noise {n}", created_at=at(20 + n))
    wanted.append(server.mention("bob.test", "@lorecastbot.test late", created_at=at(1000)))
    page = bsky.mentions(cursor)
    assert [m.id for m in page.mentions] == wanted and page.complete


def test_at_most_mention_pages_pages_then_incomplete(server: BlueskyServer, tmp_path: Path) -> None:
    bsky = platform(server, tmp_path)
    server.mention("alice.test", "@lorecastbot.test before", created_at=at(1))
    cursor = bsky.mentions(None).cursor
    newer = [server.mention("bob.test", f"@lorecastbot.test {n}", created_at=at(10 + n)) for n in range(520)]
    reads = listing_reads(server)
    page = bsky.mentions(cursor)
    assert listing_reads(server) - reads == MENTION_PAGES
    assert not page.complete
    assert [m.id for m in page.mentions] == newer[-MENTION_PAGES * 50:]  # the newest; the oldest 20 left out
    assert page.cursor.split("|")[1:] == [newer[-1]]


def test_the_bot_is_never_notified_of_its_own_posts_and_another_bot_is(server: BlueskyServer,
                                                                         tmp_path: Path) -> None:
    # The AppView notifies no author of their own post: the run's own-post check never sees one here. Two bots on
    # one server: the reply one writes through post() in the other's thread reaches the other, from its own_id.
    bsky = platform(server, tmp_path)
    server.add_account("otherbot.test")
    other = platform(server, tmp_path, "otherbot.test")
    root = other.post(draft("the other bot's post", 1))
    asked = server.mention("alice.test", "@lorecastbot.test what do you say?", reply_to_uri=root, created_at=at(1))
    [mention] = bsky.mentions(None).mentions
    answer = bsky.post(reply_draft(bsky, mention, "this, says @lorecastbot.test", 2))
    [from_alice, from_bot] = other.mentions(None).mentions
    assert from_alice.id == asked and from_bot.id == answer
    assert (from_bot.author, from_bot.author_id, from_bot.parent, from_bot.thread) == (
        bsky.account, bsky.own_id, asked, root)
    assert other.own_id == server.account("otherbot.test").did != bsky.own_id
    assert [m.id for m in bsky.mentions(None).mentions] == [asked]  # nothing of the bot's own


def test_a_muted_or_blocking_author_is_left_out_and_flagged_where_listed(server: BlueskyServer,
                                                                           tmp_path: Path) -> None:
    bsky = platform(server, tmp_path)
    kept = server.mention("alice.test", "@lorecastbot.test hello", created_at=at(1))
    muted = server.mention("bob.test", "@lorecastbot.test spam", created_at=at(2))
    blocking = server.mention("carol.test", "@lorecastbot.test go away", created_at=at(3))
    server.mute("bob.test")
    server.block("lorecastbot.test", by="carol.test")
    assert [m.id for m in bsky.mentions(None).mentions] == [kept]  # Bluesky's AppView filters them
    server.hides_muted = False  # an AppView that lists them, saying so in author.viewer
    flags = {m.id: m.muted for m in bsky.mentions(None).mentions}
    assert flags == {kept: False, muted: True, blocking: True}


def test_other_reasons_are_left_out_should_the_appview_send_them(server: BlueskyServer, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    bsky = platform(server, tmp_path)
    wanted = server.mention("alice.test", "@lorecastbot.test hi", created_at=at(2))
    quoted = server.record(server.mention("bob.test", "a quote of the bot's post", created_at=at(1)))
    quote = {"uri": quoted.uri, "cid": quoted.cid, "reason": "quote", "record": quoted.value,
             "author": {"did": quoted.did, "handle": "bob.test"}, "isRead": False,
             "indexedAt": at(1).strftime("%Y-%m-%dT%H:%M:%S.000Z")}
    original = requests.Session.request

    def ignores_reasons(self, method, url, *args, **kwargs):  # an AppView that sends every reason
        response = original(self, method, url, *args, **kwargs)
        if url.endswith(NOTIFICATIONS):
            document = response.json()
            response._content = json.dumps({**document, "notifications": [*document["notifications"], quote]}).encode()
        return response

    monkeypatch.setattr(requests.Session, "request", ignores_reasons)
    assert [m.id for m in bsky.mentions(None).mentions] == [wanted]


# --- replying


def test_a_reply_to_a_reply_goes_into_its_thread_with_a_mention_facet(server: BlueskyServer,
                                                                       tmp_path: Path) -> None:
    bsky = platform(server, tmp_path)
    own = bsky.post(draft("the bot's post", 1))
    answer = server.mention("bob.test", "why? 🤔", reply_to_uri=own, created_at=at(10))
    [mention] = bsky.mentions(None).mentions
    uri = bsky.post(reply_draft(bsky, mention, "because ünïcødé 👩\u200d💻 https://example.com/é", 2))
    reply = server.record(uri)
    assert reply.reply == {"root": {"uri": own, "cid": server.record(own).cid},
                           "parent": {"uri": answer, "cid": server.record(answer).cid}}
    data = reply.text.encode("utf-8")
    facets = {f["features"][0]["$type"]: f for f in reply.facets}
    mention_index, link_index = facets[MENTION_FEATURE]["index"], facets[LINK_FEATURE]["index"]
    assert data[mention_index["byteStart"]:mention_index["byteEnd"]] == b"@bob.test"
    assert facets[MENTION_FEATURE]["features"] == [{"$type": MENTION_FEATURE, "did": server.account("bob.test").did}]
    assert data[link_index["byteStart"]:link_index["byteEnd"]].decode() == "https://example.com/é"
    assert [f["index"]["byteStart"] for f in reply.facets] == [0, link_index["byteStart"]]
    assert reply.rkey == reply_draft(bsky, mention, "x", 2).key  # the draft's TID, as for any post
    # bob hears of it once: the facet's mention (the AppView notifies each account once)
    assert [(n.uri, n.reason) for n in server.notifications("bob.test")] == [(uri, "mention")]


def test_a_reply_to_a_mention_that_starts_no_thread_roots_at_the_mention(server: BlueskyServer,
                                                                           tmp_path: Path) -> None:
    bsky = platform(server, tmp_path)
    top = server.mention("alice.test", "@lorecastbot.test start here", created_at=at(1))
    deep = server.mention("carol.test", "@lorecastbot.test and me", reply_to_uri=top, created_at=at(2))
    first, second = bsky.mentions(None).mentions
    one = server.record(bsky.post(reply_draft(bsky, first, "to alice", 2)))
    two = server.record(bsky.post(reply_draft(bsky, second, "to carol", 3)))
    top_ref = {"uri": top, "cid": server.record(top).cid}
    assert one.reply == {"root": top_ref, "parent": top_ref}
    assert two.reply == {"root": top_ref, "parent": {"uri": deep, "cid": server.record(deep).cid}}
    # carol (the parent) and alice (the grandparent) both hear of the second one
    assert ("reply", two.uri) in [(n.reason, n.uri) for n in server.notifications("alice.test")]
    assert [(n.reason, n.uri) for n in server.notifications("carol.test")] == [("mention", two.uri)]


def test_the_mention_facet_counts_utf8_bytes() -> None:
    text = "ça va, 👩\u200d💻 @Ann.Test? mail ann@ann.test"
    facet = mention_facet(text, "ann.test", "did:plc:ann")
    index = facet["index"]
    assert text.encode("utf-8")[index["byteStart"]:index["byteEnd"]].decode() == "@Ann.Test"
    assert index["byteStart"] == len("ça va, 👩\u200d💻 ".encode("utf-8")) == 20  # code points: 10
    assert facet["features"] == [{"$type": MENTION_FEATURE, "did": "did:plc:ann"}]
    assert mention_facet("mail ann@ann.test or @ann.testing or @ann.test.org", "ann.test", "d") is None
    assert mention_facet("@ann.test.", "ann.test", "d")["index"] == {"byteStart": 0, "byteEnd": 9}


def test_a_reply_whose_answer_was_lost_is_found_by_its_key(server: BlueskyServer, tmp_path: Path) -> None:
    bsky = platform(server, tmp_path)
    server.mention("alice.test", "@lorecastbot.test hi", created_at=at(1))
    [mention] = bsky.mentions(None).mentions
    answer = reply_draft(bsky, mention, "hello", 2)
    assert bsky.find(answer) is None
    server.inject(r"createRecord$", DropAfterAccept())
    uri = bsky.post(answer)  # created, the answer dropped: post() looks it up by key
    assert bsky.find(answer) == uri == bsky.post(answer)  # and a retry creates nothing
    assert [r.uri for r in server.posts()] == [uri] and server.record(uri).reply["parent"]["uri"] == mention.id


def test_a_mention_without_its_refs_is_refused_before_sending(server: BlueskyServer, tmp_path: Path) -> None:
    bsky = platform(server, tmp_path)
    server.mention("alice.test", "@lorecastbot.test hi", created_at=at(1))
    [mention] = bsky.mentions(None).mentions
    bare = Mention(mention.id, mention.author, mention.author_id, mention.text, mention.created_at,
                   refs={"cid": mention.refs["cid"]})
    before = len(server.requests)
    with pytest.raises(PlatformError, match="lacks the cid, root_uri and root_cid") as caught:
        bsky.post(reply_draft(bsky, bare, "hello", 2))
    assert not caught.value.transient and len(server.requests) == before


@pytest.mark.parametrize(("cid", "message"), [
    ("bafyrei" + "0123456789abcdef" * 3 + "0123", "Invalid CID string"),  # what the PDS refuses
    ("bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm", "not bafyreie5737"),  # a CID, not the post's
])
def test_a_reply_with_a_wrong_ref_is_refused(server: BlueskyServer, tmp_path: Path, cid: str, message: str) -> None:
    bsky = platform(server, tmp_path)
    server.mention("alice.test", "@lorecastbot.test hi", created_at=at(1))
    [mention] = bsky.mentions(None).mentions
    wrong = Mention(mention.id, mention.author, mention.author_id, mention.text, mention.created_at,
                    refs={**mention.refs, "cid": cid})
    with pytest.raises(PlatformError, match=message) as caught:
        bsky.post(reply_draft(bsky, wrong, "hello", 2))
    assert not caught.value.transient and server.posts() == []


# --- errors and the stand-in's own checks


def test_a_rate_limited_listing_is_rate_limited(server: BlueskyServer, tmp_path: Path) -> None:
    bsky = platform(server, tmp_path)
    server.inject(r"listNotifications$", RateLimit(60))
    with pytest.raises(RateLimited) as caught:
        bsky.mentions(None)
    assert caught.value.reset_at is not None and caught.value.reset_at > datetime.now(timezone.utc).timestamp()
    assert "listNotifications" in str(caught.value)


def test_a_cursor_this_client_did_not_write_is_refused(server: BlueskyServer, tmp_path: Path) -> None:
    bsky = platform(server, tmp_path)
    with pytest.raises(PlatformError, match="is not a Bluesky mention cursor") as caught:
        bsky.mentions("3kabc|not-a-uri")
    assert not caught.value.transient
    assert bsky.mentions("2026-01-01T00:00:00Z").cursor == "2026-01-01T00:00:00Z"  # a bare time is one


def test_the_listing_checks_its_token_and_limit(server: BlueskyServer, tmp_path: Path) -> None:
    bsky = platform(server, tmp_path)
    server.mention("alice.test", "@lorecastbot.test hi", created_at=at(1))
    server.mention("bob.test", "@lorecastbot.test", reply_to_uri=bsky.post(draft("x", 1)), created_at=at(2))
    url = f"{server.url}/xrpc/{NOTIFICATIONS}"
    headers = {"Authorization": f"Bearer {bsky.session.access_jwt()}"}
    assert requests.get(url, timeout=5).status_code == 401
    for limit, status in (("0", 400), ("101", 400), ("x", 400), ("100", 200), ("1", 200)):
        assert requests.get(url, params={"limit": limit}, headers=headers, timeout=5).status_code == status, limit
    first = requests.get(url, params={"limit": "1"}, headers=headers, timeout=5).json()
    assert len(first["notifications"]) == 1 and first["cursor"] == first["notifications"][0]["indexedAt"]
    rest = requests.get(url, params={"limit": "1", "cursor": first["cursor"]}, headers=headers, timeout=5).json()
    assert [n["reason"] for n in rest["notifications"]] == ["mention"] and "cursor" not in rest
    replies = requests.get(url, params=[("reasons", "reply")], headers=headers, timeout=5).json()
    assert [n["reason"] for n in replies["notifications"]] == []  # bob's reply also mentions: one notification
    bad = requests.get(url, params={"cursor": "yesterday"}, headers=headers, timeout=5)
    assert bad.status_code == 400 and bad.json()["message"] == "Malformed cursor"


def test_the_stand_in_refuses_a_reply_outside_its_thread(server: BlueskyServer, tmp_path: Path) -> None:
    bsky = platform(server, tmp_path)
    one = server.mention("alice.test", "@lorecastbot.test one", created_at=at(1))
    two = server.mention("bob.test", "@lorecastbot.test two", created_at=at(2))
    deep = server.mention("carol.test", "in one's thread", reply_to_uri=one, created_at=at(3))
    ref = {name: {"uri": uri, "cid": server.record(uri).cid} for name, uri in (("one", one), ("two", two),
                                                                               ("deep", deep))}
    token = bsky.session.access_jwt()

    def create(reply: dict) -> requests.Response:
        record = {"$type": COLLECTION, "text": "x", "createdAt": "2026-01-01T00:00:00.000Z", "reply": reply}
        return requests.post(f"{server.url}/xrpc/com.atproto.repo.createRecord", timeout=5,
                             headers={"Authorization": f"Bearer {token}"},
                             json={"repo": server.did, "collection": COLLECTION, "record": record})

    assert create({"root": ref["one"], "parent": ref["deep"]}).status_code == 200
    for reply, words in (({"root": ref["two"], "parent": ref["deep"]}, "is not the root of the thread"),
                         ({"root": ref["deep"], "parent": ref["deep"]}, "is not the root of the thread"),
                         ({"root": ref["one"], "parent": {**ref["deep"], "cid": ref["two"]["cid"]}}, "has the cid"),
                         ({"root": ref["one"]}, 'Missing required key "parent" at $.record.reply'),
                         ({"root": ref["one"], "parent": {"uri": "https://x.example/p", "cid": ref["one"]["cid"]}},
                          "Invalid at-uri")):
        answer = create(reply)
        assert answer.status_code == 400 and words in answer.json()["message"], (reply, answer.text)
