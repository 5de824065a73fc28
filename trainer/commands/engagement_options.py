"""The options that say how a ledger's engagement becomes labels, shared by `lorecast train selector --ledger` and
`lorecast retrain` (trainer/selector_ledger.py reads them)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import click

from poster.commands.age_option import Age

ENGAGEMENT_OPTION_NAMES = ("platform", "pool_platforms", "at_age", "window_days", "quantile", "min_window_posts")


def engagement_options(ledger_required: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--ledger and the labelling options; the command receives them as keyword arguments of those names."""
    given = "" if ledger_required else "With --ledger: "
    options = [
        click.option("--ledger", type=click.Path(dir_okay=False), required=ledger_required, default=None,
                     metavar="POSTS.db",
                     help="The posters' SQLite ledger (`lorecast post` writes it, `lorecast feedback` adds "
                          "engagement snapshots). The posts that did best against the posts around them in "
                          "time become positives, those that did worst negatives."),
        click.option("--platform", default=None, metavar="NAME",
                     help=f"{given}learn from the posts of this platform only (twitter, tumblr, mastodon, "
                          "bluesky, stdout). Default: every platform's."),
        click.option("--pool-platforms", is_flag=True,
                     help=f"{given}rank every platform's posts against each other. Default: each platform "
                          "and account against itself, as their audiences and numbers differ."),
        click.option("--at-age", type=Age(), default="24h", show_default=True,
                     help=f"{given}compare each post's engagement this long after it was posted (the "
                          "feedback snapshot nearest to that age; e.g. 24h, 90m, 2d). Younger posts, and "
                          "posts without a snapshot within half the age of it, are left out."),
        click.option("--window-days", type=click.FloatRange(min=0, min_open=True), default=14.0,
                     show_default=True,
                     help=f"{given}a post is ranked against the posts within half this many days before "
                          "and after it, so that a growing audience does not make every recent post look "
                          "good."),
        click.option("--quantile", type=click.FloatRange(min=0, max=0.5, min_open=True, max_open=True),
                     default=0.25, show_default=True,
                     help=f"{given}the top this fraction of each window is labelled good, the bottom this "
                          "fraction bad; the posts in between are left out."),
        click.option("--min-window-posts", type=click.IntRange(min=2), default=5, show_default=True,
                     help=f"{given}leave out posts whose window holds fewer posts than this (a rank among a "
                          "handful says little)."),
    ]

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def engagement_from(ledger: str, platform: str | None, pool_platforms: bool, at_age: timedelta, window_days: float,
                    quantile: float, min_window_posts: int) -> Any:
    """The EngagementOptions of the options above."""
    from trainer.selector_ledger import EngagementOptions

    return EngagementOptions(ledger, platform, window_days, quantile, min_window_posts, at_age / timedelta(hours=1),
                             pool_platforms)
