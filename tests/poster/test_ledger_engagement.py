"""The ledger's engagement snapshots read at a fixed age, and the generations and picks a run records (schema 4)."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

import pytest
from old_ledger import ledger_at_schema

from poster.inference import Generation
from poster.ledger import SCHEMA_VERSION, Ledger
from poster.platforms.base import Engagement

UTC = timezone.utc
DAY = timedelta(hours=24)


@pytest.fixture
def ledger(tmp_path):
    with Ledger(tmp_path / "posts.db") as opened:
        yield opened


def posted(ledger: Ledger, text: str, *, platform: str = "twitter", exploratory: bool | None = False) -> int:
    post_id = ledger.begin(platform, "@bot", text, score=0.25, ranked_by="selector", rng_seed=1,
                           exploratory=exploratory)
    ledger.mark_posted(post_id, f"remote-{post_id}")
    return post_id


def posted_at(ledger: Ledger, post_id: int) -> datetime:
    return ledger.post(post_id).posted_at


def snapshot(ledger: Ledger, post_id: int, after: timedelta, likes: int) -> None:
    ledger.record_engagement(post_id, Engagement(likes=likes), fetched_at=posted_at(ledger, post_id) + after)


def test_each_post_is_read_in_its_snapshot_nearest_to_the_age(ledger):
    early = posted(ledger, "Read often.")
    for hours, likes in ((1, 2), (20, 7), (26, 9), (70, 30)):
        snapshot(ledger, early, timedelta(hours=hours), likes)
    later = posted(ledger, "Read once, late.", exploratory=True)
    snapshot(ledger, later, timedelta(hours=34), 4)

    aged = ledger.engagement_at_age(DAY, now=posted_at(ledger, later) + timedelta(days=5))

    assert [(post.text, post.total, post.snapshot_age) for post in aged.posts] == [
        ("Read often.", 9.0, timedelta(hours=26)),  # 2 h off the age beats 4 h off
        ("Read once, late.", 4.0, timedelta(hours=34)),  # 10 h off: within half the age
    ]
    assert [post.exploratory for post in aged.posts] == [False, True]
    assert (aged.too_young, aged.no_snapshot_near) == (0, 0)
    # The latest numbers would have compared 30 likes at 70 h with 4 at 34 h.
    assert [total for _, _, total in ledger.engagement_history()] == [30.0, 4.0]


def test_posts_too_young_or_without_a_snapshot_near_the_age_are_left_out_and_counted(ledger):
    young = posted(ledger, "Posted an hour ago.")
    snapshot(ledger, young, timedelta(hours=1), 50)
    only_early = posted(ledger, "Read at 3 h only.")
    snapshot(ledger, only_early, timedelta(hours=3), 5)
    only_late = posted(ledger, "Read at 40 h only.")
    snapshot(ledger, only_late, timedelta(hours=40), 5)
    never_read = posted(ledger, "Never read.")
    now = posted_at(ledger, never_read)

    aged = ledger.engagement_at_age(DAY, now=now + timedelta(hours=2))
    assert (aged.posts, aged.too_young, aged.no_snapshot_near) == ([], 3, 0)

    aged = ledger.engagement_at_age(DAY, now=now + timedelta(days=3))
    assert (aged.posts, aged.too_young, aged.no_snapshot_near) == ([], 0, 3)  # a post never read is not counted

    aged = ledger.engagement_at_age(timedelta(hours=4), now=now + timedelta(days=3))
    assert [post.text for post in aged.posts] == ["Read at 3 h only."]
    with pytest.raises(ValueError, match="positive"):
        ledger.engagement_at_age(timedelta(0))


def test_the_age_is_read_per_platform_when_asked(ledger):
    for platform in ("twitter", "mastodon"):
        post_id = posted(ledger, f"On {platform}.", platform=platform)
        snapshot(ledger, post_id, DAY, 3)
    now = datetime.now(UTC) + timedelta(days=2)
    assert [post.platform for post in ledger.engagement_at_age(DAY, now=now).posts] == ["twitter", "mastodon"]
    assert [post.text for post in ledger.engagement_at_age(DAY, "mastodon", now=now).posts] == ["On mastodon."]


def generation(rejected: dict[str, int], texts: int = 2) -> Generation:
    return Generation(texts=[None] * texts, seed="kernel", seed_requested=None, prompt=None, rng_seed=3,  # type: ignore[list-item]
                      ranked_by="selector", candidates=8, rejected=rejected, missing=0, batch_size=1, raw={})


def test_every_generation_of_a_run_is_recorded_with_its_rejections(ledger):
    ledger.record_generation("twitter", "@bot", "post", generation({"novelty": 3, "length": 1}))
    ledger.record_generation("mastodon", "@bot", "reply", generation({}, texts=1))
    rows = ledger.generations()
    assert [(row.platform, row.kind, row.candidates, row.texts, row.rejected) for row in rows] == [
        ("twitter", "post", 8, 2, {"length": 1, "novelty": 3}),
        ("mastodon", "reply", 8, 1, {}),
    ]
    assert [row.kind for row in ledger.generations("mastodon")] == ["reply"]
    with pytest.raises(ValueError, match="kind"):
        ledger.record_generation("twitter", "@bot", "preview", generation({}))


def test_a_schema_3_ledger_is_migrated_and_its_posts_say_their_pick_is_not_known(tmp_path):
    path = tmp_path / "posts.db"
    raw = ledger_at_schema(path, 3)
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    raw.execute("INSERT INTO posts (platform, account, text, text_key, state, remote_id, created_at, updated_at, "
                "posted_at) VALUES ('twitter', '@bot', 'Old.', 'k', 'posted', '5', ?, ?, ?)", (now, now, now))
    raw.close()
    with Ledger(path) as ledger:
        [row] = ledger.posts()
        assert (row.text, row.exploratory) == ("Old.", None)
        assert ledger.post(posted(ledger, "New.", exploratory=True)).exploratory is True
        assert ledger.generations() == []
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
    raw.close()
