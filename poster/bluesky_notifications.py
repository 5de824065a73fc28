"""Bluesky notifications as mentions (app.bsky.notification.listNotifications, read by poster/platforms/bluesky.py):
one notification item to a Mention, and the cursor a reply run keeps.

    notification(item) -> (indexedAt, uri, Mention | None) | None   None: not a notification at all; a Mention only
                                                                    for the reasons mention and reply
    MentionCursor.parse("2026-12-01T12:00:00.000Z|at://…|at://…")    the newest mention's instant and the uris of
                                                                    every mention of that instant
    next_cursor(after, since, ordered) -> str | None                the cursor after a read, `after` when nothing
                                                                    newer came
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from lorecast.errors import PlatformError
from poster.platforms.base import Mention
from poster.responses import string_field, timestamp

MENTION_REASONS = ("mention", "reply")  # a post that names the account in a facet, or answers one of its posts
CURSOR_TIES = 100  # uris a cursor keeps for its instant; past them a mention of that instant may come again
# What in author.viewer says the account will not hear from the author: a mute (itself or by a list), a block
# either way.
SILENCED = ("muted", "mutedByList", "blockedBy", "blocking", "blockingByList")


@dataclass(frozen=True)
class MentionCursor:
    """Where mentions() got to: the newest mention's indexedAt and the uris of every mention of that instant.

    Written "2026-12-03T12:00:01.000000Z|at://did:plc:…/app.bsky.feed.post/3k…|at://…" (no at:// uri holds a "|");
    a bare time is read as one with no uris. A notification comes after it when it is later, or of the same
    instant and not listed: the time alone would answer a mention twice or miss one of the same millisecond."""

    when: datetime
    uris: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str) -> MentionCursor:
        when, *uris = text.split("|")
        parsed = timestamp(when)
        if parsed is None or not all(uri.startswith("at://") for uri in uris):
            raise PlatformError(f"{text[:80]!r} is not a Bluesky mention cursor (a time, then at:// uris, joined "
                                "by |); it comes from an earlier `lorecast reply bluesky`")
        return cls(parsed, frozenset(uris))

    def precedes(self, when: datetime, uri: str) -> bool:
        """Whether a notification of `when` and `uri` is newer than this cursor."""
        return when > self.when or (when == self.when and uri not in self.uris)

    def __str__(self) -> str:
        instant = self.when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return "|".join([instant, *sorted(self.uris)[-CURSOR_TIES:]])


def next_cursor(after: str | None, since: MentionCursor | None,
                 ordered: list[tuple[datetime, Mention]]) -> str | None:
    """The cursor after `ordered` (oldest first): its newest instant with every uri of it; `after` when empty."""
    if not ordered:
        return after
    newest = ordered[-1][0]
    uris = {mention.id for when, mention in ordered if when == newest}
    if since is not None and since.when == newest:
        uris |= since.uris  # more of the instant the last cursor ended on
    return str(MentionCursor(newest, frozenset(uris)))


def notification(item: Any) -> tuple[datetime, str, Mention | None] | None:
    """(indexedAt, uri, the Mention or None for another reason) of one notification; None when it has no uri or
    readable time (nothing can be said of where it sorts)."""
    uri = string_field(item, "uri")
    when = timestamp(item.get("indexedAt")) if uri is not None else None
    if uri is None or when is None:
        return None
    return when, uri, _mention(item, uri, when) if item.get("reason") in MENTION_REASONS else None


def _mention(item: dict[str, Any], uri: str, when: datetime) -> Mention | None:
    """The Mention of a mention or reply notification; None when it lacks what a reply to it needs."""
    author, record, cid = item.get("author"), item.get("record"), string_field(item, "cid")
    did, handle = string_field(author, "did"), string_field(author, "handle")
    text = record.get("text") if isinstance(record, dict) else None
    if cid is None or did is None or handle is None or not isinstance(text, str):
        return None
    reply = record.get("reply")
    if reply is None:
        thread = parent = None
        root = (uri, cid)  # a post that starts no thread: the reply's root is the post itself
    else:
        root, parent_ref = _strong_ref(reply, "root"), _strong_ref(reply, "parent")
        if root is None or parent_ref is None:
            return None  # a reply to it could not name the thread's root: it would not thread
        thread, parent = root[0], parent_ref[0]
    viewer = author.get("viewer")
    muted = isinstance(viewer, dict) and any(viewer.get(key) for key in SILENCED)
    return Mention(id=uri, author=handle, author_id=did, text=text,
                   created_at=timestamp(record.get("createdAt")) or when, thread=thread, parent=parent,
                   refs={"cid": cid, "root_uri": root[0], "root_cid": root[1]}, muted=muted)


def _strong_ref(reply: Any, key: str) -> tuple[str, str] | None:
    ref = reply.get(key) if isinstance(reply, dict) else None
    uri, cid = string_field(ref, "uri"), string_field(ref, "cid")
    return (uri, cid) if uri is not None and cid is not None else None
