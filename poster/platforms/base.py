"""What every platform offers a poster run, and the errors it raises (their classes: lorecast/errors.py).

    platform.name                      "twitter", "tumblr", "stdout": the ledger's platform column
    platform.account                   the account posted as (a handle or blog name): the ledger's account column
    platform.fits(text) -> str | None  None when the platform accepts the text as is, else why not (too long...)
    platform.post(text) -> str         publish; returns the remote id
    platform.find(text) -> str | None  the remote id of a recent post of exactly this text by this account, if any:
                                       how a run resolves a post left pending by a crashed run
    platform.engagement(ids) -> dict[str, Engagement]   current counts for posted ids (missing ids are left out)

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

    @abstractmethod
    def fits(self, text: str) -> str | None: ...

    @abstractmethod
    def post(self, text: str) -> str: ...

    @abstractmethod
    def find(self, text: str) -> str | None: ...

    @abstractmethod
    def engagement(self, ids: Sequence[str]) -> dict[str, Engagement]: ...
