"""The ledger's mentions (schema version 3): every post that mentioned or answered the bot, what became of it, and
the cursor the platform was read up to. A part of `Ledger` (poster/ledger.py), kept apart as its own concern.

    with ledger.lock(...):
        page = platform.mentions(ledger.cursor("mastodon", "@bot"))
        ledger.record_mentions("mastodon", "@bot", page.mentions, page.cursor)   # one transaction
        for row in ledger.open_mentions("mastodon", "@bot"):                     # oldest first
            ledger.skip_mention(row.id, "own post")   # or a reply: ledger.begin(..., reply_to=row.id)

States: `new` (read, not answered yet: a run left it, or its reply is in flight), `answered` (its reply is posted:
set by `mark_posted` of the reply, in the same transaction), `skipped` (with the reason: the caps, the screen,
the bot's own post), `failed` (with the reason: the platform refused the reply, or no candidate fit).
A mention is recorded once (a unique index on platform, account, mention id); its replies are post rows with
`reply_to` set, and at most one of them is pending, posted or unknown (a partial unique index).

The thread of a mention is the platform's thread root when it says (X, Bluesky); otherwise (Mastodon) the thread
of the post it answers when that is a mention or a reply the ledger knows, else that post, else the mention
itself. The thread cap counts the bot's replies per thread.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from sqlite3 import Connection
from typing import TYPE_CHECKING, Any

from lorecast.errors import LedgerError
from poster.ledger_sql import filters, from_iso, in_chunks, iso
from poster.platforms.base import Mention

if TYPE_CHECKING:
    from poster.ledger import PostRow

MENTION_STATES = ("new", "answered", "skipped", "failed")
_LIVE_REPLY = "p.reply_to = m.id AND p.state IN ('pending', 'posted', 'unknown')"


@dataclass(frozen=True)
class MentionRow:
    id: int
    platform: str
    account: str
    mention: Mention  # as the platform gave it
    thread: str  # resolved as the module docstring says
    state: str  # 'new' | 'answered' | 'skipped' | 'failed'
    reason: str | None  # why it was skipped or failed
    seen_at: datetime
    updated_at: datetime


class MentionLedger:
    """The mention methods of `Ledger`; they use its connection and its transactions."""

    _db: Connection
    path: Path
    # Ledger's: one transaction holding the write lock, one read, and the current time as the ledger writes it.
    _write: Any
    _query: Any
    _stamp: Any
    _sqlite_errors: Any
    _posts: Any

    def cursor(self, platform: str, account: str, kind: str = "mentions") -> str | None:
        """Where the account's `kind` were last read up to; None before the first read."""
        rows = self._query("SELECT value FROM cursors WHERE platform = ? AND account = ? AND kind = ?",
                           (platform, account, kind))
        return rows[0][0] if rows else None

    def record_mentions(self, platform: str, account: str, mentions: Iterable[Mention], cursor: str | None,
                        kind: str = "mentions") -> int:
        """Store the mentions not stored yet (state new) and move the cursor, in one transaction: a crash keeps
        both or neither, so no mention is lost between reading and storing. Returns how many were new."""
        now = self._stamp()
        added = 0
        with self._write():
            for mention in mentions:
                inserted = self._db.execute(
                    "INSERT OR IGNORE INTO mentions (platform, account, mention_id, author, author_id, text, thread, "
                    "parent, refs, muted, mentioned_at, state, seen_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'new', ?, ?)",
                    (platform, account, mention.id, mention.author, mention.author_id, mention.text,
                     self._thread_of(platform, account, mention), mention.parent,
                     json.dumps(mention.refs, sort_keys=True), int(mention.muted), iso(mention.created_at), now,
                     now),
                )
                added += inserted.rowcount
            if cursor is not None:
                self._db.execute("INSERT OR REPLACE INTO cursors (platform, account, kind, value, updated_at) "
                                 "VALUES (?, ?, ?, ?, ?)", (platform, account, kind, cursor, now))
        return added

    def known_mentions(self, platform: str, account: str, mention_ids: Iterable[str]) -> set[str]:
        """Which of the platform's mention ids the ledger has stored."""
        return {row[0] for marks, chunk in in_chunks(mention_ids) for row in self._query(
            f"SELECT mention_id FROM mentions WHERE platform = ? AND account = ? AND mention_id IN ({marks})",
            (platform, account, *chunk))}

    def thread_of(self, platform: str, account: str, mention: Mention) -> str:
        """The thread the mention belongs to (the module docstring says how it is found)."""
        with self._sqlite_errors():
            return self._thread_of(platform, account, mention)

    def _thread_of(self, platform: str, account: str, mention: Mention) -> str:
        if mention.thread is not None:
            return mention.thread
        if mention.parent is None:
            return mention.id
        known = self._db.execute(
            "SELECT thread FROM mentions WHERE platform = ? AND account = ? AND mention_id = ? "
            "UNION ALL SELECT m.thread FROM posts p JOIN mentions m ON m.id = p.reply_to "
            "WHERE p.platform = ? AND p.account = ? AND p.remote_id = ? LIMIT 1",
            (platform, account, mention.parent, platform, account, mention.parent),
        ).fetchone()
        return known[0] if known else mention.parent

    def open_mentions(self, platform: str, account: str) -> list[MentionRow]:
        """The account's new mentions without a reply in flight, oldest first: what a reply run answers."""
        return self._mentions(f"WHERE m.platform = ? AND m.account = ? AND m.state = 'new' AND NOT EXISTS "
                              f"(SELECT 1 FROM posts p WHERE {_LIVE_REPLY}) ORDER BY m.mentioned_at, m.id",
                              (platform, account))

    def mention(self, mention_row_id: int) -> MentionRow:
        rows = self._mentions("WHERE m.id = ?", (mention_row_id,))
        if not rows:
            raise LedgerError(f"{self.path}: no mention {mention_row_id}")
        return rows[0]

    def mentions(self, *, platform: str | None = None, account: str | None = None, state: str | None = None,
                 limit: int | None = None) -> list[MentionRow]:
        """Mentions matching every filter given, newest first; at most `limit` of them."""
        if state is not None and state not in MENTION_STATES:
            raise ValueError(f"state must be one of {', '.join(MENTION_STATES)}, got {state!r}")
        conditions, parameters = filters("m.", platform=platform, account=account, state=state)
        clause = f"{conditions} ORDER BY m.id DESC"
        if limit is not None:
            clause += " LIMIT ?"
            parameters.append(limit)
        return self._mentions(clause, tuple(parameters))

    def replies(self, mention_row_ids: Iterable[int]) -> list[PostRow]:
        """The live (pending, posted or unknown) replies to these mentions."""
        return [post for marks, chunk in in_chunks(mention_row_ids) for post in self._posts(
            f"WHERE reply_to IN ({marks}) AND state IN ('pending', 'posted', 'unknown')", tuple(chunk))]

    def skip_mention(self, mention_row_id: int, reason: str) -> None:
        """Not answered, on purpose, for `reason` (the caps, the screen, the bot's own post)."""
        self._close_mention(mention_row_id, "skipped", reason)

    def fail_mention(self, mention_row_id: int, reason: str) -> None:
        """Not answered: the platform refused the reply, or no candidate fit."""
        self._close_mention(mention_row_id, "failed", reason)

    def _close_mention(self, mention_row_id: int, state: str, reason: str) -> None:
        with self._write():
            changed = self._db.execute(
                "UPDATE mentions SET state = ?, reason = ?, updated_at = ? WHERE id = ? AND state = 'new' AND NOT "
                f"EXISTS (SELECT 1 FROM posts p WHERE {_LIVE_REPLY.replace('m.id', 'mentions.id')})",
                (state, reason, self._stamp(), mention_row_id)).rowcount
        if changed != 1:
            raise LedgerError(f"{self.path}: mention {mention_row_id} is not new, or has a reply in flight")

    def replies_to_author(self, platform: str, account: str, author_id: str, since: datetime) -> int:
        """The account's replies (pending, posted or unknown) written since `since` to mentions by `author_id`."""
        return self._count_replies("m.author_id = ? AND p.created_at >= ?", (platform, account, author_id, iso(since)))

    def replies_in_thread(self, platform: str, account: str, thread: str) -> int:
        """The account's replies (pending, posted or unknown) in the thread."""
        return self._count_replies("m.thread = ?", (platform, account, thread))

    def _count_replies(self, condition: str, parameters: tuple[Any, ...]) -> int:
        rows = self._query(f"SELECT count(*) FROM posts p JOIN mentions m ON m.id = p.reply_to WHERE "
                           f"p.platform = ? AND p.account = ? AND p.state IN ('pending', 'posted', 'unknown') "
                           f"AND {condition}", parameters)
        return int(rows[0][0])

    def _mentions(self, clause: str, parameters: tuple[Any, ...]) -> list[MentionRow]:
        rows = self._query(f"SELECT m.id, m.platform, m.account, m.mention_id, m.author, m.author_id, m.text, "
                           f"m.mentioned_at, m.thread, m.parent, m.refs, m.muted, m.state, m.reason, m.seen_at, "
                           f"m.updated_at FROM mentions m {clause}", parameters)
        return [_mention_row(row) for row in rows]


def _mention_row(row: tuple[Any, ...]) -> MentionRow:
    (row_id, platform, account, mention_id, author, author_id, text, mentioned_at, thread, parent, refs, muted,
     state, reason, seen_at, updated_at) = row
    mention = Mention(mention_id, author, author_id, text, from_iso(mentioned_at), thread=thread, parent=parent,
                      refs=json.loads(refs), muted=bool(muted))
    return MentionRow(row_id, platform, account, mention, thread, state, reason, from_iso(seen_at),
                      from_iso(updated_at))

