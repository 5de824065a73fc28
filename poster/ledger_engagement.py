"""The ledger's record of how posts did and how they were chosen: engagement snapshots (every feedback run adds
one, none is replaced) and, from schema version 4, every generation a run asked for. A part of `Ledger`
(poster/ledger.py), kept apart as its own concern.

    ledger.record_engagement(post_id, engagement, fetched_at)      a snapshot; the earlier ones stay
    ledger.latest_metrics(post_ids)                                 -> {post_id: MetricsRow}, the newest of each
    ledger.engagement_at_age(timedelta(hours=24), platform=None)    -> AgedEngagement: each post's numbers at one age
    ledger.record_generation(platform, account, "post", generation) what TorchServe returned and what it rejected
    ledger.generations(platform=None)                               -> [GenerationRow], oldest first

Why a fixed age: a post's numbers grow for days, so the latest snapshot of a post from last week and of one from
this morning do not compare; the snapshot taken nearest to the same age after posting does. A post whose nearest
snapshot is further than AGE_TOLERANCE of the age from it is left out (a snapshot at 3 h says little about 24 h),
and so is a post younger than the age: its number at that age does not exist yet.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from sqlite3 import Connection
from typing import TYPE_CHECKING, Any

from lorecast.errors import LedgerError
from poster.ledger_sql import filters, from_iso, in_chunks, iso
from poster.platforms.base import Engagement

if TYPE_CHECKING:
    from poster.inference import Generation

AGE_TOLERANCE = 0.5  # a snapshot counts for an age when it was taken within this share of the age from it
GENERATION_KINDS = ("post", "reply")


@dataclass(frozen=True)
class MetricsRow:
    post_id: int
    fetched_at: datetime
    likes: int
    reposts: int
    replies: int
    quotes: int
    impressions: int | None
    total: int


@dataclass(frozen=True)
class AgedPost:
    post_id: int
    platform: str
    account: str
    posted_at: datetime
    text: str
    total: float  # engagement in the snapshot nearest to the age
    snapshot_age: timedelta  # how long after posting that snapshot was taken
    score: float | None  # what the post was ranked by when it was chosen
    exploratory: bool | None  # None: posted before the ledger recorded it (schema 4)


@dataclass(frozen=True)
class AgedEngagement:
    age: timedelta
    posts: list[AgedPost]  # oldest first
    too_young: int  # posted less than `age` ago
    no_snapshot_near: int  # old enough, but no snapshot within AGE_TOLERANCE of the age


@dataclass(frozen=True)
class GenerationRow:
    platform: str
    account: str
    kind: str  # 'post' | 'reply'
    at: datetime
    candidates: int  # generated
    texts: int  # returned, after the filters
    rejected: dict[str, int]  # candidates dropped, by filter
    ranked_by: str


class EngagementLedger:
    """The engagement and generation methods of `Ledger`; they use its connection and its transactions."""

    _db: Connection
    path: Path
    _write: Any
    _query: Any

    def record_engagement(self, post_id: int, engagement: Engagement, fetched_at: datetime | None = None) -> None:
        """Store the counts a platform reported for a post at `fetched_at` (default now); earlier ones are kept."""
        with self._write():
            if self._db.execute("SELECT 1 FROM posts WHERE id = ?", (post_id,)).fetchone() is None:
                raise LedgerError(f"{self.path}: no post {post_id}")
            self._db.execute(
                "INSERT INTO metrics (post_id, fetched_at, likes, reposts, replies, quotes, impressions, total) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (post_id, iso(fetched_at or _now()), engagement.likes, engagement.reposts, engagement.replies,
                 engagement.quotes, engagement.impressions, engagement.total),
            )

    def latest_metrics(self, post_ids: Iterable[int] | None = None) -> dict[int, MetricsRow]:
        """The newest metrics of each post (of `post_ids`, or of all) that has any."""
        query = f"SELECT {_METRICS_COLUMNS} FROM metrics m WHERE m.rowid = ({_LATEST_METRICS_ROWID})"
        if post_ids is None:
            rows = self._query(query)
        else:
            rows = []
            for marks, chunk in in_chunks(post_ids):
                rows += self._query(f"{query} AND m.post_id IN ({marks})", chunk)
        return {row[0]: _metrics_row(row) for row in rows}

    def engagement_history(self, platform: str | None = None,
                           account: str | None = None) -> list[tuple[datetime, str, float]]:
        """(posted_at, text, latest total engagement) of every posted post with metrics, oldest first."""
        conditions, parameters = filters("p.", platform=platform, account=account, state="posted")
        rows = self._query(
            f"SELECT p.posted_at, p.text, m.total FROM posts p JOIN metrics m "
            f"ON m.rowid = (SELECT rowid FROM metrics WHERE post_id = p.id ORDER BY fetched_at DESC, rowid DESC "
            f"LIMIT 1) {conditions} ORDER BY p.posted_at, p.id",
            parameters,
        )
        return [(from_iso(posted_at), text, float(total)) for posted_at, text, total in rows]

    def engagement_at_age(self, age: timedelta, platform: str | None = None, account: str | None = None,
                          now: datetime | None = None) -> AgedEngagement:
        """Each posted post's total engagement in its snapshot nearest to `age` after posting (module docstring)."""
        if age <= timedelta(0):
            raise ValueError(f"the age must be positive, got {age}")
        now = now or _now()
        conditions, parameters = filters("p.", platform=platform, account=account, state="posted")
        rows = self._query(
            f"SELECT p.id, p.platform, p.account, p.posted_at, p.text, p.score, p.exploratory, m.fetched_at, m.total "
            f"FROM posts p JOIN metrics m ON m.post_id = p.id {conditions} ORDER BY p.posted_at, p.id, m.fetched_at",
            parameters,
        )
        nearest: dict[int, AgedPost] = {}
        too_young: set[int] = set()
        seen: set[int] = set()
        for post_id, platform_, account_, posted_at, text, score, exploratory, fetched_at, total in rows:
            seen.add(post_id)
            posted = from_iso(posted_at)
            if now - posted < age:
                too_young.add(post_id)
                continue
            taken = from_iso(fetched_at) - posted
            off = abs(taken - age)
            best = nearest.get(post_id)
            if off <= age * AGE_TOLERANCE and (best is None or off < abs(best.snapshot_age - age)):
                nearest[post_id] = AgedPost(post_id, platform_, account_, posted, text, float(total), taken, score,
                                            None if exploratory is None else bool(exploratory))
        return AgedEngagement(age, list(nearest.values()), len(too_young),
                              len(seen) - len(too_young) - len(nearest))

    def record_generation(self, platform: str, account: str, kind: str, generation: Generation,
                          at: datetime | None = None) -> None:
        """What one generation request of a run returned: its candidates, texts and rejections by filter."""
        if kind not in GENERATION_KINDS:
            raise ValueError(f"kind must be one of {', '.join(GENERATION_KINDS)}, got {kind!r}")
        with self._write():
            self._db.execute(
                "INSERT INTO generations (platform, account, kind, at, candidates, texts, rejected, ranked_by) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (platform, account, kind, iso(at or _now()), generation.candidates, len(generation.texts),
                 json.dumps(generation.rejected, sort_keys=True), generation.ranked_by),
            )

    def generations(self, platform: str | None = None, account: str | None = None) -> list[GenerationRow]:
        conditions, parameters = filters(platform=platform, account=account)
        rows = self._query(
            f"SELECT platform, account, kind, at, candidates, texts, rejected, ranked_by FROM generations "
            f"{conditions} ORDER BY at, id", parameters)
        return [GenerationRow(platform_, account_, kind, from_iso(at), candidates, texts, json.loads(rejected),
                              ranked_by)
                for platform_, account_, kind, at, candidates, texts, rejected, ranked_by in rows]


_METRICS_COLUMNS = "m.post_id, m.fetched_at, m.likes, m.reposts, m.replies, m.quotes, m.impressions, m.total"
_LATEST_METRICS_ROWID = ("SELECT rowid FROM metrics WHERE post_id = m.post_id "
                         "ORDER BY fetched_at DESC, rowid DESC LIMIT 1")


def _metrics_row(row: tuple[Any, ...]) -> MetricsRow:
    post_id, fetched_at, *counts = row
    return MetricsRow(post_id, from_iso(fetched_at), *counts)


def _now() -> datetime:
    return datetime.now(timezone.utc)
