"""Engagement labels (trainer/engagement.py) on synthetic ledgers: a growing audience, ties, sparse windows."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta, timezone

import pytest

from trainer.engagement import label_by_engagement

DAY = 86400.0
START = datetime(2024, 1, 1, tzinfo=timezone.utc)


def growing_audience(days: int = 360, per_day: int = 3, seed: int = 0) -> tuple[list, dict[str, float]]:
    """Posts whose engagement is audience(t) x quality, the audience growing 30-fold over the period.

    Returns the posts (unix seconds, text, engagement) and each text's quality, what a good label should follow.
    """
    rng = random.Random(seed)
    posts, quality = [], {}
    for index in range(days * per_day):
        when = START.timestamp() + index * DAY / per_day + rng.uniform(0, DAY / per_day)
        audience = 100 * math.exp(math.log(30) * index / (days * per_day))
        text = f"post {index}"
        quality[text] = rng.lognormvariate(0, 0.5)
        posts.append((when, text, audience * quality[text]))
    return posts, quality


def global_labels(posts: list, quantile: float = 0.25) -> list[tuple[str, int]]:
    """What a single threshold over the whole ledger would give: the contrast to the rolling window."""
    ranked = sorted(engagement for _, _, engagement in posts)
    low, high = ranked[int(quantile * len(ranked))], ranked[int((1 - quantile) * len(ranked))]
    return [(text, 1 if engagement >= high else 0) for _, text, engagement in posts
            if engagement >= high or engagement <= low]


def counts_by_period(labels: list[tuple[str, int]], periods: int, total: int) -> list[tuple[int, int]]:
    """(positives, negatives) in each of `periods` equal stretches of post indices."""
    counts = [[0, 0] for _ in range(periods)]
    for text, label in labels:
        period = int(text.split()[1]) * periods // total
        counts[period][1 - label] += 1
    return [tuple(pair) for pair in counts]


def test_a_global_threshold_calls_every_early_post_bad():
    posts, _ = growing_audience()
    first_period, last_period = counts_by_period(global_labels(posts), 3, len(posts))[::2]
    # The first four months: almost no positive; the last four: almost no negative.
    assert first_period[1] > 150 and first_period[0] <= 0.02 * first_period[1]
    assert last_period[0] > 150 and last_period[1] <= 0.02 * last_period[0]


def test_rolling_labels_are_balanced_in_every_period():
    posts, _ = growing_audience()
    labels = label_by_engagement(posts, window=timedelta(days=14), quantile=0.25)
    assert 0.4 * len(posts) <= len(labels) <= 0.6 * len(posts)  # top and bottom quarters kept, middle dropped
    for positives, negatives in counts_by_period(labels, 6, len(posts)):
        assert positives + negatives > 50
        assert abs(positives - negatives) <= 0.15 * (positives + negatives)


def test_rolling_labels_follow_quality_not_time():
    posts, quality = growing_audience()
    labels = label_by_engagement(posts, window=timedelta(days=14), quantile=0.25)
    good = sorted(quality[text] for text, label in labels if label == 1)
    bad = sorted(quality[text] for text, label in labels if label == 0)
    # Nearly every positive is of better quality than the median negative, and the other way round.
    assert sum(value > bad[len(bad) // 2] for value in good) > 0.9 * len(good)
    assert sum(value < good[len(good) // 2] for value in bad) > 0.9 * len(bad)


def test_datetimes_and_unix_seconds_label_alike_and_input_order_does_not_matter():
    posts, _ = growing_audience(days=60, seed=1)
    as_datetimes = [(datetime.fromtimestamp(when, timezone.utc), text, value) for when, text, value in posts]
    shuffled = posts[:]
    random.Random(2).shuffle(shuffled)
    expected = label_by_engagement(posts)
    assert expected
    assert label_by_engagement(as_datetimes) == expected
    assert label_by_engagement(shuffled) == expected


def test_a_window_of_ties_labels_nothing():
    posts = [(index * 3600.0, f"post {index}", 7.0) for index in range(50)]
    assert label_by_engagement(posts, window=timedelta(days=1)) == []


def test_posts_with_too_few_neighbours_are_dropped():
    # Five posts a day apart, then a cluster of ten within an hour: with a one-day window each lone post is alone.
    lone = [(index * 2 * DAY, f"lone {index}", float(index)) for index in range(5)]
    cluster = [(20 * DAY + index * 60, f"cluster {index}", float(index)) for index in range(10)]
    labels = label_by_engagement(lone + cluster, window=timedelta(days=1), quantile=0.25, min_window_posts=5)
    # Mid-rank percentiles in the cluster are 0.05, 0.15, ... 0.95: three at or below 0.25, three at or above 0.75.
    assert labels == [("cluster 0", 0), ("cluster 1", 0), ("cluster 2", 0),
                      ("cluster 7", 1), ("cluster 8", 1), ("cluster 9", 1)]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"window": timedelta(0)}, "window must be positive"),
        ({"quantile": 0.5}, "quantile must be in"),
        ({"quantile": 0.0}, "quantile must be in"),
        ({"min_window_posts": 1}, "min_window_posts must be at least 2"),
    ],
)
def test_bad_settings_are_refused(arguments, message):
    with pytest.raises(ValueError, match=message):
        label_by_engagement([(0.0, "a", 1.0)], **arguments)


def test_non_finite_engagement_names_the_post():
    with pytest.raises(ValueError, match=r"post 1: engagement must be a finite number, got nan"):
        label_by_engagement([(0.0, "a", 1.0), (1.0, "b", float("nan"))])
