"""`lorecast ledger list|mentions|export|costs|settle|report`: read the poster's ledger (poster/ledger.py), and
settle by hand a post whose outcome no run could find out.

`list` prints a table of the posts whose outcome is unknown, then the newest others, one a line: id, state,
platform, account, remote id, created (UTC), the text shortened, and the post's latest total engagement ("-"
before any feedback run).

`mentions` prints the mentions `lorecast reply` read, newest first: id, state (new, answered, skipped, failed),
platform, account, author, when it was written (UTC), its text shortened, and why it was skipped or failed (for
an answered one: the reply's post id).

`costs` prints the billed platform calls (X's pay-per-use) by month, platform, account and kind, with totals.

`settle ID --posted REMOTE_ID | --failed` records what a person found out about an unknown post: it is on the
platform as REMOTE_ID (its text stays claimed), or it is not (its text is free again).

`report -o DIR` writes an HTML page with charts of the bot's record (poster/report/): posts and engagement at a
fixed age over time, engagement by selector score decile, explore vs exploit picks, rejections by filter.

`export` writes every post, oldest first, with its latest metrics:
    jsonl  one object a line: the post's columns (timestamps as UTC ISO 8601) and "metrics": {fetched_at, likes,
           reposts, replies, quotes, impressions, total} or null
    csv    a header line, then the post's columns followed by metrics_fetched_at, likes, reposts, replies, quotes,
           impressions, total (empty before any feedback run)
"""

from __future__ import annotations

import csv
import dataclasses
import importlib.util
import io
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click

from lorecast.errors import LorecastError
from poster.commands.age_option import Age
from poster.commands.options import ledger_option
from poster.env_file import DotEnvGroup
from poster.ledger import STATES, Ledger, MetricsRow, PostRow
from poster.ledger_mentions import MENTION_STATES

_TEXT_WIDTH = 60


@click.group("ledger", cls=DotEnvGroup)
def ledger_group() -> None:
    """Look at what the posters posted: the ledger of every post attempt and its engagement."""


@ledger_group.command("list")
@ledger_option
@click.option("--platform", default=None, metavar="NAME",
              help="Only posts to this platform (twitter, tumblr, mastodon, bluesky, stdout).")
@click.option("--state", type=click.Choice(STATES), default=None,
              help="Only posts in this state: pending (being sent, or left by a crashed run), posted, failed, "
                   "unknown (no run could find out whether it went out; `ledger settle` decides).")
@click.option("--limit", type=click.IntRange(min=0), default=20, show_default=True,
              help="Show at most this many posts, the newest; 0 shows them all.")
def list_command(ledger_path: str, platform: str | None, state: str | None, limit: int) -> None:
    """Print the newest posts as a table, with each one's latest total engagement."""
    with Ledger(ledger_path, create=False) as ledger:
        # The posts that need a person's eye come first, all of them: an unknown outcome blocks its text.
        unknown = ledger.posts(platform=platform, state="unknown") if state in (None, "unknown") else []
        others = [] if state == "unknown" else ledger.posts(platform=platform, state=state, limit=limit or None)
        rows = unknown + [row for row in others if row.state != "unknown"]
        metrics = ledger.latest_metrics(row.id for row in rows)
    if not rows:
        click.echo(f"no posts in {ledger_path}" + (" match" if platform or state else ""), err=True)
        return
    header = ("id", "state", "platform", "account", "remote id", "created (UTC)", "text", "engagement")
    _print_table([header] + [_table_line(row, metrics.get(row.id)) for row in rows])
    if limit and len(rows) - len(unknown) == limit:
        click.echo(f"(the newest {limit}; --limit 0 shows all)", err=True)
    if unknown:
        click.echo(f"{len(unknown)} post(s) with an unknown outcome: look on the platform, then "
                   "`lorecast ledger settle ID --posted REMOTE_ID` or `--failed`", err=True)


@ledger_group.command("mentions")
@ledger_option
@click.option("--platform", default=None, metavar="NAME", help="Only mentions on this platform.")
@click.option("--state", type=click.Choice(MENTION_STATES), default=None,
              help="Only mentions in this state: new (not answered yet), answered, skipped (the caps, the screen, "
                   "the bot's own post), failed (the reply was refused, or no answer fit).")
@click.option("--limit", type=click.IntRange(min=0), default=20, show_default=True,
              help="Show at most this many mentions, the newest; 0 shows them all.")
def mentions_command(ledger_path: str, platform: str | None, state: str | None, limit: int) -> None:
    """Print the newest mentions `lorecast reply` read, and what became of each."""
    with Ledger(ledger_path, create=False) as ledger:
        rows = ledger.mentions(platform=platform, state=state, limit=limit or None)
        replies = {row.reply_to: row.id for row in ledger.replies([row.id for row in rows])}
    if not rows:
        click.echo(f"no mentions in {ledger_path}" + (" match" if platform or state else ""), err=True)
        return
    header = ("id", "state", "platform", "account", "author", "written (UTC)", "text", "why / reply")
    _print_table([header] + [
        (str(row.id), row.state, row.platform, row.account, "@" + row.mention.author,
         row.mention.created_at.strftime("%Y-%m-%d %H:%M"), _shortened(row.mention.text),
         row.reason or (f"post {replies[row.id]}" if row.id in replies else "-"))
        for row in rows])


@ledger_group.command("settle")
@ledger_option
@click.argument("post_id", type=int, metavar="ID")
@click.option("--posted", "remote_id", metavar="REMOTE_ID",
              help="The post is on the platform with this id (its URL's last part; Bluesky: its at:// URI).")
@click.option("--failed", is_flag=True, help="The post is not on the platform: its text may be posted again.")
def settle_command(ledger_path: str, post_id: int, remote_id: str | None, failed: bool) -> None:
    """Record the outcome of post ID, whose outcome no run could find out (state unknown).

    Runs look such posts up again by themselves; settle one by hand when the platform's lookup cannot tell
    (X without read access, a deleted post). A pending post can be settled only while no run holds its
    account's lock.
    """
    if (remote_id is None) == (not failed):
        raise click.UsageError("give exactly one of --posted REMOTE_ID and --failed")
    if remote_id is not None and not remote_id.strip():
        raise click.UsageError("--posted needs the post's remote id")
    with Ledger(ledger_path, create=False) as ledger:
        row = ledger.post(post_id)
        if row.state not in ("unknown", "pending"):
            raise LorecastError(f"{ledger_path}: post {post_id} is {row.state}: only an unknown or pending post "
                                "can be settled")
        if row.state == "pending" and ledger.lock_holder(row.platform, row.account) is not None:
            raise LorecastError(f"{ledger_path}: post {post_id} is pending and a run holds the lock of "
                                f"{row.platform} account {row.account!r}: let it finish, it settles the post")
        if failed:
            ledger.mark_failed(post_id, "settled by hand: not on the platform")
        else:
            ledger.mark_posted(post_id, remote_id)
    click.echo(f"post {post_id} settled as {'failed' if failed else 'posted as ' + remote_id}", err=True)


@ledger_group.command("costs")
@ledger_option
@click.option("--platform", default=None, metavar="NAME", help="Only this platform's calls.")
def costs_command(ledger_path: str, platform: str | None) -> None:
    """Print what the billed platform calls cost, by month (UTC), platform, account and kind.

    Prices are those of the run that made each call (built in, or from --prices FILE): an estimate of the
    platform's bill, not a copy of it.
    """
    with Ledger(ledger_path, create=False) as ledger:
        rows = ledger.costs(platform=platform)
    if not rows:
        click.echo(f"no billed calls in {ledger_path}", err=True)
        return
    header = ("month", "platform", "account", "kind", "calls", "units", "USD")
    table = [header] + [(month, name, account or "-", kind, str(calls), str(units), f"{cost:.3f}")
                        for name, account, month, kind, calls, units, cost in rows]
    months: dict[tuple[str, str], float] = {}
    for name, _, month, _, _, _, cost in rows:
        months[(month, name)] = months.get((month, name), 0.0) + cost
    table += [(month, name, "all", "total", "", "", f"{cost:.3f}") for (month, name), cost in sorted(months.items())]
    _print_table(table)


@ledger_group.command("report")
@ledger_option
@click.option("-o", "--output", "out_dir", required=True, metavar="DIR", type=click.Path(file_okay=False),
              help="Report dir to write: index.html plus the PNG charts it shows. Created if missing.")
@click.option("--force", is_flag=True, help="Replace DIR when it holds a previous report.")
@click.option("--at-age", "age", type=Age(), default="24h", show_default=True,
              help="Compare posts by their engagement this long after posting (24h, 90m, 45s, 2d, or hours).")
def report_command(ledger_path: str, out_dir: str, force: bool, age: timedelta) -> None:
    """Write an HTML report of the bot's record: posts and engagement over time, engagement by selector score,
    explore vs exploit picks, rejections by filter, and a summary of posts, mentions and billed calls.

    Prints the path of the report's index.html.
    """
    # The charts need matplotlib (the inspect extra), imported only here: the poster image has none.
    if importlib.util.find_spec("matplotlib") is None:
        raise LorecastError("`lorecast ledger report` draws its charts with matplotlib, which is missing: "
                            "pip install 'lorecast[inspect]'")
    from poster.report.writer import write_report

    click.echo(write_report(Path(ledger_path), Path(out_dir), age=age, force=force))


def _print_table(table: list[tuple[str, ...]]) -> None:
    """Columns padded to their widest cell, two spaces apart."""
    widths = [max(len(line[column]) for line in table) for column in range(len(table[0]))]
    for line in table:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip())


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
    return (str(row.id), row.state, row.platform, row.account, row.remote_id or "-",
            row.created_at.strftime("%Y-%m-%d %H:%M"), _shortened(row.text), str(metrics.total) if metrics else "-")


def _shortened(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _TEXT_WIDTH else text[: _TEXT_WIDTH - 1] + "…"


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
