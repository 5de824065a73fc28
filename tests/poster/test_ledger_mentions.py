"""The ledger's mentions (schema 3): stored once, the cursor moved with them, one live reply per mention, threads."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from old_ledger import ledger_at_schema

from lorecast.errors import DuplicateText, LedgerError
from poster.ledger import SCHEMA_VERSION, Ledger
from poster.platforms.base import Mention

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def mention(number: int, *, author: str = "ann", parent: str | None = None, thread: str | None = None) -> Mention:
    return Mention(f"m{number}", author, f"id-{author}", f"@bot question {number}?", NOW + timedelta(minutes=number),
                   thread=thread, parent=parent, refs={"visibility": "unlisted"})


@pytest.fixture
def ledger(tmp_path):
    with Ledger(tmp_path / "posts.db") as opened:
        yield opened


def reply(ledger: Ledger, row_id: int, text: str) -> int:
    return ledger.begin("mastodon", "bot", text, score=None, ranked_by=None, rng_seed=None, reply_to=row_id)


def test_mentions_are_stored_once_and_the_cursor_moves_with_them(ledger):
    assert ledger.cursor("mastodon", "bot") is None
    assert ledger.record_mentions("mastodon", "bot", [mention(1), mention(2)], "n2") == 2
    assert ledger.record_mentions("mastodon", "bot", [mention(2), mention(3)], "n3") == 1  # m2 again: ignored
    assert ledger.cursor("mastodon", "bot") == "n3"
    assert [row.mention.id for row in ledger.open_mentions("mastodon", "bot")] == ["m1", "m2", "m3"]
    [row] = ledger.mentions(state="new", limit=1)
    assert row.mention.refs == {"visibility": "unlisted"} and row.mention.author_id == "id-ann"
    assert ledger.open_mentions("mastodon", "other") == []  # per account


def test_a_mention_has_one_live_reply_and_is_answered_with_it(ledger):
    ledger.record_mentions("mastodon", "bot", [mention(1)], "n1")
    [row] = ledger.open_mentions("mastodon", "bot")
    first = reply(ledger, row.id, "@ann one answer")
    with pytest.raises(DuplicateText, match=f"mention {row.id} already has a reply"):
        reply(ledger, row.id, "@ann another answer")
    assert ledger.open_mentions("mastodon", "bot") == []  # its reply is in flight
    with pytest.raises(LedgerError, match="reply in flight"):
        ledger.skip_mention(row.id, "own post")
    ledger.mark_posted(first, "r1")
    assert ledger.mention(row.id).state == "answered" and ledger.post(first).reply_to == row.id


def test_a_failed_reply_frees_its_mention_for_another(ledger):
    ledger.record_mentions("mastodon", "bot", [mention(1)], "n1")
    [row] = ledger.open_mentions("mastodon", "bot")
    ledger.mark_failed(reply(ledger, row.id, "@ann one answer"), "rate limited")
    assert [open_row.id for open_row in ledger.open_mentions("mastodon", "bot")] == [row.id]
    second = reply(ledger, row.id, "@ann one answer")  # the failed row claims neither the mention nor the text
    ledger.mark_unknown(second, "no answer")
    assert ledger.mention(row.id).state == "new" and ledger.open_mentions("mastodon", "bot") == []


def test_skipped_and_failed_mentions_keep_their_reason(ledger):
    ledger.record_mentions("mastodon", "bot", [mention(1), mention(2)], "n2")
    first, second = ledger.open_mentions("mastodon", "bot")
    ledger.skip_mention(first.id, "toxicity screen")
    ledger.fail_mention(second.id, "the reply was refused: 404")
    assert [(row.state, row.reason) for row in ledger.mentions()] == [
        ("failed", "the reply was refused: 404"), ("skipped", "toxicity screen")]
    with pytest.raises(LedgerError, match="not new"):
        ledger.skip_mention(first.id, "again")


def test_threads_follow_the_platform_or_the_posts_answered(ledger):
    ledger.record_mentions("mastodon", "bot", [mention(1)], "n1")  # starts a thread: its own id
    [row] = ledger.open_mentions("mastodon", "bot")
    ledger.mark_posted(reply(ledger, row.id, "@ann answer"), "r1")
    # Mastodon gives no thread: a mention answering the bot's reply r1 is in r1's mention's thread.
    ledger.record_mentions("mastodon", "bot", [mention(2, parent="r1"), mention(3, thread="root-x"),
                                               mention(4, parent="elsewhere")], "n4")
    threads = {row.mention.id: row.thread for row in ledger.mentions()}
    assert threads == {"m1": "m1", "m2": "m1", "m3": "root-x", "m4": "elsewhere"}
    assert ledger.replies_in_thread("mastodon", "bot", "m1") == 1
    assert ledger.replies_in_thread("mastodon", "bot", "root-x") == 0
    assert ledger.replies_to_author("mastodon", "bot", "id-ann", NOW - timedelta(days=1)) == 1
    assert ledger.replies_to_author("mastodon", "bot", "id-ann", datetime.now(UTC) + timedelta(minutes=1)) == 0


def test_a_schema_2_ledger_is_migrated_with_its_posts(tmp_path):
    path = tmp_path / "posts.db"
    raw = ledger_at_schema(path, 2)
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    raw.execute("INSERT INTO posts (platform, account, text, text_key, state, remote_id, created_at, updated_at, "
                "posted_at) VALUES ('mastodon', 'bot', 'Old.', 'k', 'posted', '5', ?, ?, ?)", (now, now, now))
    raw.close()
    with Ledger(path) as ledger:
        [row] = ledger.posts()
        assert (row.text, row.reply_to) == ("Old.", None)
        ledger.record_mentions("mastodon", "bot", [mention(1)], "n1")
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
    assert raw.execute("PRAGMA foreign_key_check").fetchall() == []
    raw.close()


def test_more_ids_than_one_query_takes_are_looked_up_in_chunks(ledger):
    ledger.record_mentions("mastodon", "bot", [mention(number) for number in range(1200)], "n1200")
    ids = [f"m{number}" for number in range(1300)]  # 100 of them never stored
    assert ledger.known_mentions("mastodon", "bot", ids) == set(ids[:1200])
    rows = ledger.open_mentions("mastodon", "bot")
    for row in rows[:700]:
        reply(ledger, row.id, f"@ann answer {row.id}")
    assert len(ledger.replies(row.id for row in rows)) == 700
