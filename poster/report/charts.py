"""The PNG charts of `lorecast ledger report`; the only module of the report that imports matplotlib.

Each function draws one chart into `out_dir` under a fixed file name and returns that name, or None when there
is nothing to draw (the page then says "no data yet"). Figures use matplotlib's object API (Figure + Agg, no
pyplot): no display, no global figure state. One colour per platform, the same in every chart.
"""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, DayLocator
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from poster.report.stats import PICKS, LedgerStats

ACTIVITY_PNG = "activity.png"
SCORE_DECILES_PNG = "score_deciles.png"
PICKS_PNG = "picks.png"
REJECTIONS_PNG = "rejections.png"
CHART_FILES = (ACTIVITY_PNG, SCORE_DECILES_PNG, PICKS_PNG, REJECTIONS_PNG)

_PALETTE = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860")


def _colors(stats: LedgerStats) -> dict[str, str]:
    return {platform: _PALETTE[index % len(_PALETTE)] for index, platform in enumerate(stats.platforms)}


def _save(figure: Figure, out_dir: Path, name: str) -> str:
    figure.savefig(out_dir / name, dpi=100)
    return name


def _hours(stats: LedgerStats) -> str:
    return f"{stats.age.total_seconds() / 3600:g} h"


def activity_chart(out_dir: Path, stats: LedgerStats) -> str | None:
    """Own posts per day, and their median engagement at the age per day, one line per platform."""
    if not any(stats.days.values()):
        return None
    colors = _colors(stats)
    figure = Figure(figsize=(10, 6), layout="constrained")
    posts_ax, engagement_ax = figure.subplots(2, 1, sharex=True)
    for platform, days in sorted(stats.days.items()):
        posts_ax.plot([day.day for day in days], [day.posts for day in days], marker="o", color=colors[platform],
                      label=platform)
        measured = [day for day in days if day.at_age.median is not None]
        engagement_ax.plot([day.day for day in measured], [day.at_age.median for day in measured], marker="o",
                           color=colors[platform], label=platform)
    posts_ax.set_ylabel("posts per day")
    posts_ax.set_ylim(bottom=0)
    posts_ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    posts_ax.legend()
    engagement_ax.set_ylabel(f"median engagement at {_hours(stats)}")
    engagement_ax.set_ylim(bottom=0)
    engagement_ax.set_xlabel("day posted (UTC)")
    if not any(day.at_age.count for days in stats.days.values() for day in days):
        engagement_ax.text(0.5, 0.5, f"no post has a number at {_hours(stats)} yet", ha="center", va="center",
                           transform=engagement_ax.transAxes, color="#666")
    # A day of margin: one day of posts must not stretch the axis over years.
    first = min(days[0].day for days in stats.days.values() if days)
    last = max(days[-1].day for days in stats.days.values() if days)
    engagement_ax.set_xlim(first - timedelta(days=1), last + timedelta(days=1))
    # Whole days, not hours, on a short span: a point is a day of posts.
    locator = DayLocator() if (last - first).days < 10 else AutoDateLocator(maxticks=10)
    engagement_ax.xaxis.set_major_locator(locator)
    engagement_ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    return _save(figure, out_dir, ACTIVITY_PNG)


def _grouped_bars(ax, groups: list[str], series: dict[str, list[tuple[float | None, int]]],
                  colors: dict[str, str]) -> None:
    """Bars of (height, count) per group, one bar a series side by side; each bar labelled n=count."""
    width = 0.8 / max(1, len(series))
    for index, (label, values) in enumerate(series.items()):
        positions = [group + (index - (len(series) - 1) / 2) * width for group in range(len(groups))]
        heights = [math.nan if height is None else height for height, _ in values]
        bars = ax.bar(positions, heights, width, label=label, color=colors.get(label))
        ax.bar_label(bars, labels=[f"n={count}" if count else "" for _, count in values], fontsize=8)
    ax.set_xticks(range(len(groups)), groups)


def score_decile_chart(out_dir: Path, stats: LedgerStats) -> str | None:
    """Mean engagement at the age per selector-score decile, per platform (deciles are the platform's own)."""
    rankings = {platform: ranking for platform, ranking in sorted(stats.ranking.items()) if ranking.deciles}
    if not rankings:
        return None
    groups = max(len(ranking.deciles) for ranking in rankings.values())
    series = {platform: [(decile.engagement.mean, decile.engagement.count) for decile in ranking.deciles]
              + [(None, 0)] * (groups - len(ranking.deciles)) for platform, ranking in rankings.items()}
    figure = Figure(figsize=(10, 4.5), layout="constrained")
    ax = figure.subplots()
    _grouped_bars(ax, [str(index + 1) for index in range(groups)], series, _colors(stats))
    ax.set_xlabel("selector score decile (1: lowest scores)")
    ax.set_ylabel(f"mean engagement at {_hours(stats)}")
    ax.legend()
    return _save(figure, out_dir, SCORE_DECILES_PNG)


def picks_chart(out_dir: Path, stats: LedgerStats) -> str | None:
    """Mean engagement at the age of exploit, explore and unknown picks, per platform."""
    picks = {platform: spreads for platform, spreads in sorted(stats.picks.items())
             if any(spread.count for spread in spreads.values())}
    if not picks:
        return None
    series = {platform: [(spreads[pick].mean, spreads[pick].count) for pick in PICKS]
              for platform, spreads in picks.items()}
    figure = Figure(figsize=(8, 4), layout="constrained")
    ax = figure.subplots()
    _grouped_bars(ax, list(PICKS), series, _colors(stats))
    ax.set_ylabel(f"mean engagement at {_hours(stats)}")
    ax.legend()
    return _save(figure, out_dir, PICKS_PNG)


def rejections_chart(out_dir: Path, stats: LedgerStats) -> str | None:
    """Candidates rejected by each filter, per platform, the filter rejecting most on top."""
    totals = {name: sum(counts[name] for counts in stats.rejections.values())
              for counts in stats.rejections.values() for name in counts}
    filters = [name for name, total in sorted(totals.items(), key=lambda item: (-item[1], item[0])) if total]
    if not filters:
        return None
    colors = _colors(stats)
    platforms = sorted(stats.rejections)
    height = 0.8 / len(platforms)
    figure = Figure(figsize=(9, 1.5 + 0.4 * len(filters) * max(1, len(platforms) / 2)), layout="constrained")
    ax = figure.subplots()
    for index, platform in enumerate(platforms):
        # barh draws bottom-up: the first filter gets the top row
        positions = [len(filters) - 1 - row + (index - (len(platforms) - 1) / 2) * height
                     for row in range(len(filters))]
        counts = [stats.rejections[platform][name] for name in filters]
        bars = ax.barh(positions, counts, height, color=colors[platform], label=platform)
        ax.bar_label(bars, labels=[str(count) if count else "" for count in counts], fontsize=8)
    ax.set_yticks([len(filters) - 1 - row for row in range(len(filters))], filters)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("candidates rejected")
    ax.legend()
    return _save(figure, out_dir, REJECTIONS_PNG)


def draw_charts(out_dir: Path, stats: LedgerStats) -> dict[str, str | None]:
    """Every chart: "activity", "score_deciles", "picks", "rejections" -> its file name, or None (no data)."""
    return {
        "activity": activity_chart(out_dir, stats),
        "score_deciles": score_decile_chart(out_dir, stats),
        "picks": picks_chart(out_dir, stats),
        "rejections": rejections_chart(out_dir, stats),
    }
