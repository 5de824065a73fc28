"""The index.html of `lorecast ledger report`: one self-contained page (inline CSS, no scripts, no remote URLs).

Charts are linked by bare file name, so the report dir can be moved or zipped whole; a chart with nothing to
draw is a "no data yet" line instead. Every text from the ledger (platform names, filter names) passes through
html.escape. The generator <meta> tag marks a dir as a previous report, which a later report may replace.
"""

from __future__ import annotations

import html
from pathlib import Path

from poster.ledger import STATES
from poster.ledger_mentions import MENTION_STATES
from poster.report.stats import PICKS, LedgerStats

REPORT_MARKER = '<meta name="generator" content="lorecast ledger report">'
NO_DATA = "no data yet"

_CSS = """
body { font-family: system-ui, sans-serif; max-width: 70rem; margin: 2rem auto; padding: 0 1rem;
       color: #222; line-height: 1.4; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f2f2f2; }
img { max-width: 100%; display: block; margin: 0.5rem 0; }
.note { color: #666; font-size: 0.9rem; }
.empty { color: #a33; font-style: italic; }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _number(value: float | int | None, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def _table(header: list[str], rows: list[list[object]], table_id: str) -> str:
    """A table with an id (the tests find it by it); numbers are right-aligned, every cell escaped here."""
    head = "<thead><tr>" + "".join(f"<th>{_e(cell)}</th>" for cell in header) + "</tr></thead>"
    body = "".join("<tr>" + "".join(_cell(cell) for cell in row) + "</tr>" for row in rows)
    return f'<table id="{_e(table_id)}">{head}<tbody>{body}</tbody></table>'


def _cell(cell: object) -> str:
    if isinstance(cell, (int, float)) or cell is None:
        return f'<td class="n">{_e(_number(cell, 2 if isinstance(cell, float) else 1))}</td>'
    return f"<td>{_e(cell)}</td>"


def _image(name: str | None, alt: str) -> str:
    return f'<img src="{_e(name)}" alt="{_e(alt)}">' if name else f'<p class="empty">{NO_DATA}</p>'


def _note(text: str) -> str:
    return f'<p class="note">{_e(text)}</p>'


def _hours(stats: LedgerStats) -> str:
    return f"{stats.age.total_seconds() / 3600:g} h"


def _summary(stats: LedgerStats) -> str:
    if not stats.platforms:
        return f'<h2>Summary</h2><p class="empty">{NO_DATA}: the ledger holds no posts, mentions or generations</p>'
    posts = _table(["platform", *STATES, "of them replies"],
                   [[platform, *(stats.states.get(platform, {}).get(state, 0) for state in STATES),
                     stats.replies.get(platform, 0)] for platform in stats.platforms], "posts-by-state")
    mentions = (_table(["platform", *MENTION_STATES],
                       [[platform, *(stats.mentions[platform].get(state, 0) for state in MENTION_STATES)]
                        for platform in stats.platforms if platform in stats.mentions], "mentions-by-state")
                if stats.mentions else f'<p class="empty">{NO_DATA}: no mentions read</p>')
    costs = (_table(["platform", "US dollars"], [[platform, f"{cost:.3f}"] for platform, cost in
                                                  sorted(stats.costs.items())], "costs")
             + _note("Priced by the run that made each call: an estimate of the platform's bill.")
             if stats.costs else _note("No billed platform calls."))
    return ("<h2>Summary</h2><h3>Post attempts by state</h3>" + posts + "<h3>Mentions by state</h3>" + mentions
            + "<h3>Billed calls</h3>" + costs)


def _activity(stats: LedgerStats, chart: str | None) -> str:
    age = _hours(stats)
    rows = [[platform, c.posted, c.with_number, c.too_young, c.no_snapshot_near, c.at_age.median, c.at_age.mean,
             c.latest.count, c.latest.mean] for platform, c in sorted(stats.coverage.items())]
    table = _table(["platform", "posted", f"with a number at {age}", "too young", "no snapshot near the age",
                    f"median at {age}", f"mean at {age}", "with any snapshot", "mean latest"],
                   rows, "engagement-coverage") if rows else ""
    return (
        "<h2>Posts and engagement over time</h2>"
        + _note(f"The bot's own posted posts (replies left out), by the UTC day they were posted. Engagement is each "
                f"post's total (likes, reposts, replies, quotes) in its snapshot nearest to {age} after posting, so "
                f"young and old posts compare; a post younger than {age}, or without a snapshot near that age, has "
                "no number and is counted apart. The latest numbers (whatever the snapshot's age) are shown for "
                "comparison.")
        + _image(chart, "posts per day and median engagement per day, one line per platform")
        + table
    )


def _ranking(stats: LedgerStats, chart: str | None) -> str:
    rows, correlations = [], []
    for platform, ranking in sorted(stats.ranking.items()):
        for index, decile in enumerate(ranking.deciles):
            rows.append([platform, str(index + 1), f"{decile.low:.3f} – {decile.high:.3f}", decile.engagement.count,
                         decile.engagement.mean, decile.engagement.median])
        rho = "–" if ranking.spearman is None else f"{ranking.spearman:+.2f}"
        correlations.append([platform, sum(d.engagement.count for d in ranking.deciles), rho, ranking.left_out])
    tables = ""
    if rows:
        tables = (_table(["platform", "decile", "scores", "posts", "mean", "median"], rows, "score-deciles")
                  + _table(["platform", "selector posts", "Spearman (score, engagement)", "other rankers (left out)"],
                           correlations, "score-correlation"))
    return (
        "<h2>Does the ranker pick what people like?</h2>"
        + _note(f"Posted own posts ranked by the selector with a number at {_hours(stats)}, sorted by score and cut "
                "into ten groups of near-equal size per platform (fewer with under ten posts). A ranker that works "
                "shows engagement rising with the decile and a positive Spearman correlation. Posts ranked by the "
                "generator's log-probability (no selector in the archive) are another scale and are left out.")
        + _image(chart, "mean engagement per selector score decile")
        + tables
    )


def _picks(stats: LedgerStats, chart: str | None) -> str:
    rows = [[platform, pick, stats.picked[platform].get(pick, 0), spreads[pick].count, spreads[pick].mean,
             spreads[pick].median]
            for platform, spreads in sorted(stats.picks.items()) for pick in PICKS]
    table = _table(["platform", "pick", "posted", f"with a number at {_hours(stats)}", "mean", "median"], rows,
                   "picks") if rows else ""
    return (
        "<h2>Explore vs exploit</h2>"
        + _note("exploit: the top-ranked candidate; explore: one picked at random among lower-ranked ones (the "
                "request's explore rate); unknown: posted before the ledger recorded the pick.")
        + _image(chart, "mean engagement of exploit, explore and unknown picks")
        + table
    )


def _rejections(stats: LedgerStats, chart: str | None) -> str:
    platforms = sorted(stats.rejections)
    filters = sorted({name for counts in stats.rejections.values() for name in counts})
    tables = ""
    if stats.generations:
        rows = [[name, *(stats.rejections[platform].get(name, 0) for platform in platforms),
                 sum(stats.rejections[platform].get(name, 0) for platform in platforms)] for name in filters]
        generations = [[platform, kind, t.generations, t.candidates, t.texts, t.rejected]
                       for (platform, kind), t in stats.generations.items()]
        tables = ((_table(["filter", *platforms, "all"], rows, "rejections") if rows else _note("No rejections."))
                  + _table(["platform", "kind", "generations", "candidates", "texts returned", "rejected"],
                           generations, "generations"))
    return (
        "<h2>Rejections by filter</h2>"
        + _note("Every generation a run asked TorchServe for: the candidates it generated, the texts that passed "
                "its filters, and how many each filter rejected.")
        + _image(chart, "candidates rejected per filter and platform")
        + tables
    )


def render_page(ledger_path: Path, stats: LedgerStats, charts: dict[str, str | None]) -> str:
    """The whole index.html; `charts` as charts.draw_charts returns it."""
    title = f"Ledger report: {ledger_path.name}"
    body = (
        f"<h1>{_e(title)}</h1>"
        + _note(f"{ledger_path} at {stats.now.strftime('%Y-%m-%d %H:%M')} UTC; engagement read at "
                f"{_hours(stats)} after posting.")
        + _summary(stats)
        + _activity(stats, charts["activity"])
        + _ranking(stats, charts["score_deciles"])
        + _picks(stats, charts["picks"])
        + _rejections(stats, charts["rejections"])
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"{REPORT_MARKER}<title>{_e(title)}</title><style>{_CSS}</style></head>\n"
        f"<body>\n{body}\n</body></html>\n"
    )
