"""The engagement half of `lorecast train selector --ledger`: the posters' ledger (contract 6) read and labelled.

    read_engagement(EngagementOptions(ledger, platform, window_days, quantile, min_window_posts)) -> LedgerLabels
        LedgerLabels(options, labelled [(text, 1 | 0), ...], posts, ledger_sha256)

`posts` counts the posted posts with engagement metrics (of `platform`, or of every platform); `labelled` is what
trainer/engagement.py label_by_engagement makes of them: 1 for the top `quantile` of a post's time window, 0 for
the bottom, the rest left out. The ledger is opened with `create=False`, so a mistyped path is an error instead of
a new empty ledger. Torch-free; poster.ledger is imported only when a ledger is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

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


@dataclass(frozen=True)
class LedgerLabels:
    options: EngagementOptions
    labelled: list[tuple[str, int]]
    posts: int  # posted posts with engagement metrics
    ledger_sha256: str


def read_engagement(options: EngagementOptions) -> LedgerLabels:
    """The ledger's posts with engagement, labelled; a one-line LorecastError when there are none."""
    from poster.ledger import Ledger

    with Ledger(options.ledger, create=False) as ledger:
        history = ledger.engagement_history(options.platform)
    # Hashed after closing: the last connection to close checkpoints the WAL into the file, so (unless a poster
    # has the ledger open right now) the hash covers the rows just read.
    digest = sha256_file(options.ledger)
    if not history:
        where = f"{options.ledger} for {options.platform}" if options.platform else options.ledger
        raise LorecastError(
            f"no engagement in {where} yet: run `lorecast feedback {options.platform or 'PLATFORM'}` first"
        )
    labelled = label_by_engagement(history, timedelta(days=options.window_days), options.quantile,
                                   options.min_window_posts)
    return LedgerLabels(options, labelled, len(history), digest)
