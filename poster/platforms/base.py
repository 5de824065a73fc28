"""What every platform offers a poster run, and the errors it raises (their classes: lorecast/errors.py).

    platform.name                      "twitter", "tumblr", "mastodon", "bluesky", "stdout": the ledger's platform
    platform.account                   the account posted as (a handle or blog name): the ledger's account column
    platform.idempotent_create         True when a retried post() of the same draft can never make a second post
                                       (Mastodon's Idempotency-Key, Bluesky's record key): the run may retry it
    platform.fits(text) -> str | None  None when the platform accepts the text as is, else why not (too long...)
    platform.post(draft) -> str        publish draft.text; returns the remote id
    platform.find(draft) -> str | None the remote id of the draft's post when the platform has it, None when it
                                       does not: how a run resolves a post whose outcome it does not know. Raises
                                       (any PlatformError) when it cannot tell: the row then stays unresolved
    platform.engagement(ids) -> dict[str, Engagement]   current counts for posted ids (missing ids are left out)
    platform.close()                   end the platform's HTTP session

Replies (a platform with `replies = True`; the others raise RepliesUnsupported, one line saying why):
    platform.mentions(after) -> MentionPage   the posts that mention or answer the account newer than the cursor
                                       `after` (None: the newest page only), oldest first, following the
                                       platform's pagination back to the cursor (at most MENTION_PAGES pages)
    platform.reply_text(mention, answer) -> str   the text of a reply: "@author answer" (what fits() must accept)
    platform.own_id                    the account's stable id: a mention whose author_id it is, is the bot's own
    platform.post(draft)               with draft.reply_to set, publishes the reply in the mention's thread
    platform.find(draft)               finds a reply the way it finds a post

Errors (all PlatformError, one line, never containing a secret):
    DuplicatePost     the platform refuses the text as a duplicate of an earlier post
    RateLimited       reset_at: unix seconds when the limit resets (None when the platform does not say)
    AuthRefused       401/403 for credentials: retrying will not help
    PlatformError     anything else; `transient` says whether a retry may succeed (5xx, dropped connection)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from lorecast.errors import RepliesUnsupported

MENTION_PAGES = 10  # pages mentions() reads at most in one call; beyond them the oldest are left out (page.complete)


@dataclass(frozen=True)
class Mention:
    """A post that mentions or answers the bot's account, as the platform gave it."""

    id: str  # the platform's id of the post: X tweet id, Mastodon status id, Bluesky at:// URI
    author: str  # its author's handle as the platform shows it, without "@" (X username, Mastodon acct, Bluesky handle)
    author_id: str  # the author's stable id: X user id, Mastodon account id, Bluesky DID
    text: str  # what they wrote, as plain text (Mastodon's HTML turned into text), @-mentions included
    created_at: datetime  # aware
    thread: str | None = None  # id of the thread's first post where the platform says (X conversation_id,
    #                            Bluesky reply root URI); None when it does not (Mastodon) or the post starts one
    parent: str | None = None  # id of the post it answers; None when it answers none
    refs: dict[str, str] = field(default_factory=dict)  # what a reply in its thread needs beyond the id (Bluesky:
    #                            cid, root_uri, root_cid; Mastodon: visibility); kept in the ledger as JSON
    muted: bool = False  # the platform says the account mutes or blocks its author (or is blocked by them)


@dataclass(frozen=True)
class MentionPage:
    mentions: list[Mention]  # oldest first
    cursor: str | None  # the cursor to keep for the next call: the newest mention's (`after` when none is newer)
    complete: bool = True  # False when MENTION_PAGES pages did not reach back to `after`: older ones were left out


@dataclass(frozen=True)
class Draft:
    """One ledger row's text on its way to the platform."""

    text: str
    key: str  # the row's idempotency key, a TID (poster/tid.py): the same on every retry and in every later run
    created_at: datetime  # when the row was written, before any send: a lookup need not look further back
    reply_to: Mention | None = None  # the mention this text answers, in its thread; None for a post of its own


@dataclass(frozen=True)
class Engagement:
    """Counts as the platform reports them; a platform fills the ones it has (Tumblr: notes only)."""

    likes: int = 0
    reposts: int = 0
    replies: int = 0
    quotes: int = 0
    impressions: int | None = None

    @property
    def total(self) -> int:
        """The engagement the selector learns from: every interaction, impressions excluded."""
        return self.likes + self.reposts + self.replies + self.quotes


class Platform(ABC):
    name: str
    account: str
    idempotent_create: bool = False
    replies: bool = False
    own_id: str | None = None  # the account's stable id (X user id, Mastodon account id, Bluesky DID), for replies

    @abstractmethod
    def fits(self, text: str) -> str | None: ...

    @abstractmethod
    def post(self, draft: Draft) -> str: ...

    @abstractmethod
    def find(self, draft: Draft) -> str | None: ...

    @abstractmethod
    def engagement(self, ids: Sequence[str]) -> dict[str, Engagement]: ...

    def mentions(self, after: str | None) -> MentionPage:
        raise RepliesUnsupported(f"{self.name} cannot read mentions or reply")

    def reply_text(self, mention: Mention, answer: str) -> str:
        return f"@{mention.author} {answer}"

    def close(self) -> None:  # noqa: B027 - a platform without a session has nothing to close
        pass
