"""trainer/selector_ledger.py read_engagement: a real ledger's posts labelled by their engagement at one age, each
platform against itself unless pooled, held-back texts left out. Ledgers are written through the Ledger API with a
fake clock (the ledger stamps posted_at itself)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import poster.ledger
from lorecast.errors import LorecastError
from poster.ledger import Ledger
from poster.platforms.base import Engagement
from trainer.selector_ledger import EngagementOptions, read_engagement

START = datetime(2025, 1, 1, tzinfo=timezone.utc)


def write(path, posts) -> None:
    """posts: (platform, text, hours after START, {snapshot hours after posting: likes})."""
    clock = {"now": START}
    with pytest.MonkeyPatch.context() as patch, Ledger(path) as ledger:
        patch.setattr(poster.ledger, "_now", lambda: clock["now"])
        for index, (platform, text, hours, snapshots) in enumerate(posts):
            clock["now"] = START + timedelta(hours=hours)
            post_id = ledger.begin(platform, "@bot", text, score=None, ranked_by=None, rng_seed=None)
            ledger.mark_posted(post_id, f"{platform}-{index}")
            posted = clock["now"]
            for age, likes in snapshots.items():
                ledger.record_engagement(post_id, Engagement(likes=likes), fetched_at=posted + timedelta(hours=age))


def options(path, **changes) -> EngagementOptions:
    return EngagementOptions(str(path), quantile=0.25, min_window_posts=4, **changes)


def test_labels_come_from_the_snapshot_at_the_age_not_the_latest(tmp_path):
    path = tmp_path / "posts.db"
    # At 24 h, text-0 did best and text-7 worst; three days on, the order is reversed.
    write(path, [("twitter", f"text-{i}", 6 * i, {24: 100 - 10 * i, 72: 10 * i}) for i in range(8)])
    day = dict(read_engagement(options(path)).labelled)
    assert day["text-0"] == 1 and day["text-7"] == 0
    later = dict(read_engagement(options(path, at_age_hours=72)).labelled)
    assert later["text-0"] == 0 and later["text-7"] == 1


def test_young_posts_and_posts_without_a_snapshot_near_the_age_are_left_out_and_counted(tmp_path):
    path = tmp_path / "posts.db"
    old = [("twitter", f"old-{i}", i, {23: 10 * i}) for i in range(6)]
    far = [("twitter", "far", 7, {2: 5, 60: 9})]  # snapshots at 2 h and 60 h: neither within 12 h of 24 h
    young = [("twitter", "young", 24 * 365 * 10, {1: 3})]  # posted ten years on: younger than a day
    write(path, old + far + young)
    labels = read_engagement(options(path))
    assert labels.posts == 6 and labels.no_snapshot_near == 1 and labels.too_young == 1
    assert {text for text, _ in labels.labelled} <= {f"old-{i}" for i in range(6)}
    assert labels.posted_at == sorted(labels.posted_at)


def test_each_platform_is_ranked_against_itself_unless_pooled(tmp_path):
    path = tmp_path / "posts.db"
    # Mastodon's numbers are all far below X's: pooled, every mastodon post is a negative.
    write(path, [("twitter", f"x-{i}", 2 * i, {24: 1000 + 100 * i}) for i in range(6)]
          + [("mastodon", f"m-{i}", 2 * i + 1, {24: 1 + i}) for i in range(6)])
    apart = dict(read_engagement(options(path)).labelled)
    assert apart["m-5"] == 1 and apart["m-0"] == 0 and apart["x-5"] == 1 and apart["x-0"] == 0
    pooled = dict(read_engagement(options(path, pool_platforms=True)).labelled)
    assert {pooled[text] for text in pooled if text.startswith("m-")} == {0}
    assert {pooled[text] for text in pooled if text.startswith("x-")} == {1}
    only = read_engagement(options(path, platform="mastodon"))
    assert only.posts == 6 and all(text.startswith("m-") for text, _ in only.labelled)


def test_held_back_texts_are_not_labelled(tmp_path):
    path = tmp_path / "posts.db"
    write(path, [("twitter", f"text-{i}", 3 * i, {24: i}) for i in range(10)])
    held = frozenset({"text-0", "text-9"})
    texts = {text for text, _ in read_engagement(options(path, held_back=held)).labelled}
    assert texts and not texts & held


def test_no_engagement_at_the_age_says_why(tmp_path):
    path = tmp_path / "posts.db"
    write(path, [("twitter", "a", 0, {1: 5}), ("twitter", "b", 1, {2: 5})])
    with pytest.raises(LorecastError, match=r"no engagement 24 h after posting in .* yet \(0 posts younger than "
                                            r"that, 2 without a snapshot near that age\)"):
        read_engagement(options(path))
    with pytest.raises(LorecastError, match=r"for tumblr yet: run `lorecast feedback tumblr` first"):
        read_engagement(options(path, platform="tumblr"))
