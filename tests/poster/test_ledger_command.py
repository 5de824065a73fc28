"""`lorecast ledger list|export` (poster/commands/ledger.py) on ledgers built in tmp_path, run in-process."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone

import pytest
from cli_harness import lorecast

from lorecast.errors import LorecastError
from poster.ledger import Ledger
from poster.platforms.base import Engagement

LONG_TEXT = ("A hacker is a person who enjoys exploring the details of programmable systems and how to stretch "
             "their capabilities.")


@pytest.fixture
def invoke(monkeypatch):
    monkeypatch.delenv("LORECAST_LEDGER", raising=False)

    def run(*args: str, env: dict[str, str] | None = None):
        return lorecast("ledger", *args, env=env)

    return run


@pytest.fixture
def ledger_path(tmp_path):
    """Four posts: posted with two metrics fetches, posted without metrics, failed, pending (newest)."""
    path = tmp_path / "posts.db"
    with Ledger(path) as ledger:
        first = ledger.begin("twitter", "@bot", LONG_TEXT, score=-1.5, ranked_by="logprob", rng_seed=3)
        ledger.mark_posted(first, "1790000000000000001")
        now = datetime.now(timezone.utc)
        ledger.record_engagement(first, Engagement(likes=1), fetched_at=now - timedelta(days=1))
        ledger.record_engagement(first, Engagement(likes=4, reposts=2, replies=1, impressions=300), fetched_at=now)
        second = ledger.begin("tumblr", "lore-blog", 'Says "hi",\nthen leaves.', score=0.7, ranked_by="selector",
                              rng_seed=4)
        ledger.mark_posted(second, "733948573985")
        third = ledger.begin("twitter", "@bot", "Too long for X.", score=None, ranked_by=None, rng_seed=None)
        ledger.mark_failed(third, "403 from X: duplicate content")
        ledger.begin("twitter", "@bot", "Crashed mid-send.", score=0.1, ranked_by="logprob", rng_seed=5)
    return path


def table_rows(output: str) -> list[list[str]]:
    return [line.split() for line in output.splitlines()[1:]]


def test_list_prints_the_newest_posts_as_a_table(invoke, ledger_path):
    result = invoke("list", "--ledger", ledger_path)

    assert result.exit_code == 0, result.output
    header, *lines = result.stdout.splitlines()
    assert header.split("  ")[0] == "id" and "remote id" in header and "engagement" in header
    assert [line.split()[:5] for line in lines] == [
        ["4", "pending", "twitter", "@bot", "-"],
        ["3", "failed", "twitter", "@bot", "-"],
        ["2", "posted", "tumblr", "lore-blog", "733948573985"],
        ["1", "posted", "twitter", "@bot", "1790000000000000001"],
    ]
    assert [line.split()[-1] for line in lines] == ["-", "-", "-", "7"]  # the latest fetch: 4 + 2 + 1
    assert 'Says "hi", then leaves.' in lines[2]  # one line a post
    assert LONG_TEXT not in result.stdout and LONG_TEXT[:50] in lines[3] and "…" in lines[3]
    assert datetime.now(timezone.utc).strftime("%Y-%m-%d") in lines[0]
    assert result.stderr == ""


def test_list_filters_and_limits(invoke, ledger_path):
    posted = invoke("list", "--ledger", ledger_path, "--state", "posted", "--platform", "twitter")
    assert [row[0] for row in table_rows(posted.stdout)] == ["1"]

    limited = invoke("list", "--ledger", ledger_path, "--limit", 2)
    assert [row[0] for row in table_rows(limited.stdout)] == ["4", "3"]
    assert "--limit 0 shows all" in limited.stderr
    everything = invoke("list", "--ledger", ledger_path, "--limit", 0)
    assert len(table_rows(everything.stdout)) == 4 and everything.stderr == ""

    nothing = invoke("list", "--ledger", ledger_path, "--platform", "mastodon")
    assert nothing.exit_code == 0 and nothing.stdout == ""
    assert f"no posts in {ledger_path} match" in nothing.stderr

    bad = invoke("list", "--ledger", ledger_path, "--state", "sent")
    assert bad.exit_code == 2 and "'sent' is not one of" in bad.stderr


def test_the_ledger_comes_from_lorecast_ledger_in_the_environment(invoke, ledger_path):
    result = invoke("list", env={"LORECAST_LEDGER": str(ledger_path)})
    assert result.exit_code == 0, result.output
    assert len(table_rows(result.stdout)) == 4


def test_export_jsonl_writes_every_post_oldest_first_with_its_latest_metrics(invoke, ledger_path):
    result = invoke("export", "--ledger", ledger_path)

    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    with Ledger(ledger_path) as ledger:
        rows = ledger.posts()[::-1]
    assert [record["id"] for record in records] == [row.id for row in rows] == [1, 2, 3, 4]
    first = records[0]
    assert (first["text"], first["state"], first["remote_id"], first["score"]) == (
        LONG_TEXT, "posted", "1790000000000000001", -1.5)
    assert datetime.fromisoformat(first["posted_at"]) == rows[0].posted_at
    assert {name: first["metrics"][name] for name in ("likes", "reposts", "replies", "quotes", "impressions",
                                                       "total")} == {
        "likes": 4, "reposts": 2, "replies": 1, "quotes": 0, "impressions": 300, "total": 7}
    assert records[1]["text"] == 'Says "hi",\nthen leaves.' and records[1]["metrics"] is None
    assert (records[2]["state"], records[2]["reason"]) == ("failed", "403 from X: duplicate content")
    assert records[3]["posted_at"] is None


def test_export_csv_to_a_file(invoke, ledger_path, tmp_path):
    out = tmp_path / "posts.csv"
    result = invoke("export", "--ledger", ledger_path, "--format", "csv", "-o", out)

    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [row["id"] for row in rows] == ["1", "2", "3", "4"]
    assert (rows[0]["total"], rows[0]["likes"], rows[0]["impressions"]) == ("7", "4", "300")
    assert datetime.fromisoformat(rows[0]["metrics_fetched_at"]).tzinfo is not None
    assert rows[1]["text"] == 'Says "hi",\nthen leaves.'  # quoted, not split over rows
    assert (rows[1]["total"], rows[1]["metrics_fetched_at"], rows[3]["remote_id"]) == ("", "", "")


def test_an_unwritable_export_file_is_one_clear_error(invoke, ledger_path, tmp_path):
    out = tmp_path / "no such dir" / "posts.jsonl"
    result = invoke("export", "--ledger", ledger_path, "-o", out)
    assert isinstance(result.exception, LorecastError)
    assert str(result.exception).startswith(f"{out}: cannot write the export")


@pytest.mark.parametrize("command", ["list", "export"])
def test_a_missing_or_corrupt_ledger_is_one_line_naming_the_file(invoke, tmp_path, command):
    missing = tmp_path / "nowhere" / "posts.db"
    result = invoke(command, "--ledger", missing)
    assert isinstance(result.exception, LorecastError), result.output
    assert str(result.exception).startswith(f"{missing}: no ledger there")
    assert not missing.parent.exists()

    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"\x00garbage, not SQLite" * 100)
    result = invoke(command, "--ledger", corrupt)
    assert isinstance(result.exception, LorecastError), result.output
    message = str(result.exception)
    assert message.startswith(f"{corrupt}: not a readable lorecast ledger") and "\n" not in message
