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

Errors (all PlatformError, one line, never containing a secret):
    DuplicatePost     the platform refuses the text as a duplicate of an earlier post
    RateLimited       reset_at: unix seconds when the limit resets (None when the platform does not say)
    AuthRefused       401/403 for credentials: retrying will not help
    PlatformError     anything else; `transient` says whether a retry may succeed (5xx, dropped connection)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Draft:
    """One ledger row's text on its way to the platform."""

    text: str
    key: str  # the row's idempotency key, a TID (poster/tid.py): the same on every retry and in every later run
    created_at: datetime  # when the row was written, before any send: a lookup need not look further back


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

    @abstractmethod
    def fits(self, text: str) -> str | None: ...

    @abstractmethod
    def post(self, draft: Draft) -> str: ...

    @abstractmethod
    def find(self, draft: Draft) -> str | None: ...

    @abstractmethod
    def engagement(self, ids: Sequence[str]) -> dict[str, Engagement]: ...

    def close(self) -> None:  # noqa: B027 - a platform without a session has nothing to close
        pass
