"""The engagement half of `lorecast train selector --ledger` and `lorecast retrain`: the posters' ledger (contract 6)
read and labelled.

    read_engagement(EngagementOptions(ledger, platform, window_days, quantile, min_window_posts, at_age_hours,
                                      pool_platforms, held_back)) -> LedgerLabels
        LedgerLabels(options, labelled [(text, 1 | 0), ...], posted_at [datetime, ...], posts, too_young,
                     no_snapshot_near, ledger_sha256)

Each post's engagement is its total in the feedback snapshot nearest to `at_age_hours` after posting (the ledger's
`engagement_at_age`): numbers grow for days, so only numbers at the same age compare. Posts younger than that, and
posts without a snapshot near that age, are left out and counted. `posts` counts the posts read at that age (of
`platform`, or of every platform).

Labels: trainer/engagement.py label_by_engagement, 1 for the top `quantile` of a post's time window, 0 for the
bottom, the rest left out; run per platform and account (each audience against itself: a like on X and a like on
Mastodon are not the same currency), unless `pool_platforms`. `held_back` texts are left out of `labelled` (what
`lorecast retrain` keeps aside to compare selectors on). `labelled` and `posted_at` are oldest first.

The ledger is opened with `create=False`, so a mistyped path is an error instead of a new empty ledger. Torch-free;
poster.ledger is imported only when a ledger is read.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from dataset.hashing import sha256_file
from lorecast.errors import LorecastError
from trainer.engagement import label_by_engagement


@dataclass(frozen=True)
class EngagementOptions:
    ledger: str
    platform: str | None = None  # None: the posts of every platform
    window_days: float = 14.0
    quantile: float = 0.25
    min_window_posts: int = 5
    at_age_hours: float = 24.0
    pool_platforms: bool = False  # label every platform's posts against each other
    held_back: frozenset[str] = frozenset()  # texts left out of the labels (kept aside by `lorecast retrain`)


@dataclass(frozen=True)
class LedgerLabels:
    options: EngagementOptions
    labelled: list[tuple[str, int]]  # oldest first
    posted_at: list[datetime]  # of each labelled post
    posts: int  # posted posts read at the age
    too_young: int  # posted less than the age ago
    no_snapshot_near: int  # old enough, but no feedback snapshot near the age
    ledger_sha256: str


def read_engagement(options: EngagementOptions) -> LedgerLabels:
    """The ledger's posts at the age, labelled; a one-line LorecastError when none can be read at that age."""
    from poster.ledger import Ledger

    with Ledger(options.ledger, create=False) as ledger:
        aged = ledger.engagement_at_age(timedelta(hours=options.at_age_hours), options.platform)
    # Hashed after closing: the last connection to close checkpoints the WAL into the file, so (unless a poster
    # has the ledger open right now) the hash covers the rows just read.
    digest = sha256_file(options.ledger)
    if not aged.posts:
        where = f"{options.ledger} for {options.platform}" if options.platform else options.ledger
        if not aged.too_young and not aged.no_snapshot_near:
            raise LorecastError(f"no engagement in {where} yet: run `lorecast feedback "
                                f"{options.platform or 'PLATFORM'}` first")
        raise LorecastError(
            f"no engagement {options.at_age_hours:g} h after posting in {where} yet ({aged.too_young} posts "
            f"younger than that, {aged.no_snapshot_near} without a snapshot near that age): run `lorecast feedback "
            f"{options.platform or 'PLATFORM'}` regularly, or choose another --at-age"
        )
    groups: defaultdict[tuple[str, str] | None, list] = defaultdict(list)
    for post in aged.posts:
        if post.text not in options.held_back:
            groups[None if options.pool_platforms else (post.platform, post.account)].append(post)
    window = timedelta(days=options.window_days)
    dated: list[tuple[datetime, str, int]] = []
    for posts in groups.values():
        when = {post.text: post.posted_at for post in posts}
        labelled = label_by_engagement([(post.posted_at, post.text, post.total) for post in posts], window,
                                       options.quantile, options.min_window_posts)
        dated += [(when[text], text, label) for text, label in labelled]
    dated.sort(key=lambda item: item[0])
    return LedgerLabels(options, [(text, label) for _, text, label in dated], [when for when, _, _ in dated],
                        len(aged.posts), aged.too_young, aged.no_snapshot_near, digest)
