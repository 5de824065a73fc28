"""write_report(): a ledger in, a report dir out.

    REPORT/index.html          the page (page.py): summary tables, and a "no data yet" line for a chart with none
    REPORT/activity.png        own posts per day and their median engagement at the age, per platform
    REPORT/score_deciles.png   mean engagement at the age per selector score decile
    REPORT/picks.png           exploit vs explore picks and their engagement
    REPORT/rejections.png      candidates rejected per filter and platform

The ledger is opened for reading only (Ledger(path, create=False): a missing file is an error, an older schema is
migrated). REPORT is replaced whole, only when it is missing, empty, or (with --force) a previous report.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from lorecast.output_dir import check_replaceable, write_atomically
from poster.ledger import Ledger
from poster.report.charts import draw_charts
from poster.report.page import REPORT_MARKER, render_page
from poster.report.stats import ledger_stats

INDEX_FILE = "index.html"


def _is_previous_report(directory: Path) -> bool:
    index = directory / INDEX_FILE
    return index.is_file() and REPORT_MARKER in index.read_text(encoding="utf-8", errors="replace")


def write_report(ledger_path: Path, out_dir: Path, *, age: timedelta, force: bool = False,
                 now: datetime | None = None) -> Path:
    """Write the report dir and return the path of its index.html."""
    check_replaceable(out_dir, force, _is_previous_report, "a ledger report (no index.html of one)")
    with Ledger(ledger_path, create=False) as ledger:
        stats = ledger_stats(ledger, age, now)

    def fill(stage: Path) -> None:
        charts = draw_charts(stage, stats)
        (stage / INDEX_FILE).write_text(render_page(ledger_path, stats, charts), encoding="utf-8")

    write_atomically(out_dir, fill)
    return out_dir / INDEX_FILE
