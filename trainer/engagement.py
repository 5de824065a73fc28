"""Engagement labels for the selector: which posted texts did well *for their time*.

    label_by_engagement(posts, window=timedelta(days=14), quantile=0.25, min_window_posts=5)
        -> [(text, label), ...]        label 1: top of its window, 0: bottom; in the order of `posts` by time

A post is `(posted_at, text, engagement)`: `posted_at` a datetime (aware, or naive ones all in one zone) or unix
seconds, `engagement` a finite number (likes, reposts, ... however the caller sums them). The ledger reader that
builds these from a poster's SQLite ledger lives with the posters; this module knows nothing of it.

Why a rolling window: an account's audience grows (or shrinks), so raw engagement mostly measures *when* a text
was posted. Each post is compared only with the posts within `window / 2` before or after it (itself included):
its mid-rank percentile there, (posts below it + half the posts equal to it) / posts in the window, says how it
did against its neighbours. The top `quantile` of its window (percentile >= 1 - quantile) is labelled 1, the
bottom `quantile` (percentile <= quantile) 0, and the middle is dropped: a middling post teaches the selector
little and its label would be mostly noise. Posts whose window holds fewer than `min_window_posts` posts are
dropped too (a rank among two or three says nothing), as are posts whose whole window ties (percentile 0.5).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable
from datetime import datetime, timedelta

Post = tuple[datetime | float, str, float]


def label_by_engagement(
    posts: Iterable[Post],
    window: timedelta = timedelta(days=14),
    quantile: float = 0.25,
    min_window_posts: int = 5,
) -> list[tuple[str, int]]:
    """(text, 1 | 0) for the posts in the top or bottom `quantile` of their time window; see the module docstring."""
    if window <= timedelta(0):
        raise ValueError(f"window must be positive, got {window}")
    if not 0 < quantile < 0.5:
        raise ValueError(f"quantile must be in (0, 0.5), got {quantile}")
    if min_window_posts < 2:
        raise ValueError(f"min_window_posts must be at least 2, got {min_window_posts}")
    timed = sorted(((_seconds(when), text, _finite(engagement, index)) for index, (when, text, engagement)
                    in enumerate(posts)), key=lambda post: post[0])
    times = [when for when, _, _ in timed]
    half = window.total_seconds() / 2
    labelled = []
    for when, text, engagement in timed:
        neighbours = timed[bisect.bisect_left(times, when - half): bisect.bisect_right(times, when + half)]
        if len(neighbours) < min_window_posts:
            continue
        below = sum(other < engagement for _, _, other in neighbours)
        equal = sum(other == engagement for _, _, other in neighbours)
        percentile = (below + equal / 2) / len(neighbours)
        if percentile >= 1 - quantile:
            labelled.append((text, 1))
        elif percentile <= quantile:
            labelled.append((text, 0))
    return labelled


def _seconds(when: datetime | float) -> float:
    return when.timestamp() if isinstance(when, datetime) else float(when)


def _finite(engagement: float, index: int) -> float:
    value = float(engagement)
    if not math.isfinite(value):
        raise ValueError(f"post {index}: engagement must be a finite number, got {engagement!r}")
    return value
