"""`lorecast ledger list|export`: read the poster's ledger (poster/ledger.py).

`list` prints a table of the newest posts, one a line: id, state, platform, account, remote id, created (UTC),
the text shortened, and the post's latest total engagement ("-" before any feedback run).

`export` writes every post, oldest first, with its latest metrics:
    jsonl  one object a line: the post's columns (timestamps as UTC ISO 8601) and "metrics": {fetched_at, likes,
           reposts, replies, quotes, impressions, total} or null
    csv    a header line, then the post's columns followed by metrics_fetched_at, likes, reposts, replies, quotes,
           impressions, total (empty before any feedback run)
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from lorecast.errors import LorecastError
from poster.commands.options import ledger_option
from poster.env_file import DotEnvGroup
from poster.ledger import STATES, Ledger, MetricsRow, PostRow

_TEXT_WIDTH = 60


@click.group("ledger", cls=DotEnvGroup)
def ledger_group() -> None:
    """Look at what the posters posted: the ledger of every post attempt and its engagement."""


@ledger_group.command("list")
@ledger_option
@click.option("--platform", default=None, metavar="NAME",
              help="Only posts to this platform (twitter, tumblr, stdout).")
@click.option("--state", type=click.Choice(STATES), default=None,
              help="Only posts in this state: pending (being sent, or left by a crashed run), posted, failed.")
@click.option("--limit", type=click.IntRange(min=0), default=20, show_default=True,
              help="Show at most this many posts, the newest; 0 shows them all.")
def list_command(ledger_path: str, platform: str | None, state: str | None, limit: int) -> None:
    """Print the newest posts as a table, with each one's latest total engagement."""
    with Ledger(ledger_path, create=False) as ledger:
        rows = ledger.posts(platform=platform, state=state, limit=limit or None)
        metrics = ledger.latest_metrics(row.id for row in rows)
    if not rows:
        click.echo(f"no posts in {ledger_path}" + (" match" if platform or state else ""), err=True)
        return
    header = ("id", "state", "platform", "account", "remote id", "created (UTC)", "text", "engagement")
    table = [header] + [_table_line(row, metrics.get(row.id)) for row in rows]
    widths = [max(len(line[column]) for line in table) for column in range(len(header))]
    for line in table:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip())
    if limit and len(rows) == limit:
        click.echo(f"(the newest {limit}; --limit 0 shows all)", err=True)


@ledger_group.command("export")
@ledger_option
@click.option("--format", "file_format", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True,
              help="jsonl: one JSON object a line, metrics nested; csv: one flat row a post, metrics as columns.")
@click.option("-o", "--output", default="-", show_default=True, metavar="FILE", type=click.Path(dir_okay=False),
              help="Write here (replacing the file); - is standard output.")
def export_command(ledger_path: str, file_format: str, output: str) -> None:
    """Write every post, oldest first, with its latest engagement metrics."""
    with Ledger(ledger_path, create=False) as ledger:
        rows = ledger.posts()[::-1]
        metrics = ledger.latest_metrics()
    stream = io.StringIO()
    if file_format == "jsonl":
        for row in rows:
            stream.write(json.dumps(_json_record(row, metrics.get(row.id)), ensure_ascii=False) + "\n")
    else:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(_CSV_HEADER)
        writer.writerows(_csv_record(row, metrics.get(row.id)) for row in rows)
    if output == "-":
        click.echo(stream.getvalue(), nl=False)
        return
    try:
        Path(output).write_text(stream.getvalue(), encoding="utf-8", newline="")
    except OSError as error:
        raise LorecastError(f"{output}: cannot write the export: {error.strerror or error}") from None


def _table_line(row: PostRow, metrics: MetricsRow | None) -> tuple[str, ...]:
    text = " ".join(row.text.split())
    if len(text) > _TEXT_WIDTH:
        text = text[: _TEXT_WIDTH - 1] + "…"
    return (str(row.id), row.state, row.platform, row.account, row.remote_id or "-",
            row.created_at.strftime("%Y-%m-%d %H:%M"), text, str(metrics.total) if metrics else "-")


_POST_FIELDS = [field.name for field in dataclasses.fields(PostRow)]
_METRICS_FIELDS = [field.name for field in dataclasses.fields(MetricsRow) if field.name != "post_id"]
_CSV_HEADER = _POST_FIELDS + ["metrics_fetched_at", *_METRICS_FIELDS[1:]]


def _plain(value: Any) -> Any:
    return value.isoformat(timespec="microseconds") if isinstance(value, datetime) else value


def _json_record(row: PostRow, metrics: MetricsRow | None) -> dict[str, Any]:
    record = {name: _plain(getattr(row, name)) for name in _POST_FIELDS}
    record["metrics"] = {name: _plain(getattr(metrics, name)) for name in _METRICS_FIELDS} if metrics else None
    return record


def _csv_record(row: PostRow, metrics: MetricsRow | None) -> list[Any]:
    return ([_plain(getattr(row, name)) for name in _POST_FIELDS]
            + [_plain(getattr(metrics, name)) if metrics else None for name in _METRICS_FIELDS])
