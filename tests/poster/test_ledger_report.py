"""`lorecast ledger report` (poster/report/): the HTML page of a ledger built in tmp_path, read back with html.parser,
its charts opened as PNGs, its numbers checked against what the ledger was given."""

from __future__ import annotations

import importlib.util
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest
from cli_harness import lorecast
from old_ledger import ledger_at_schema
from PIL import Image

from poster.inference import Generation
from poster.ledger import Ledger
from poster.ledger_sql import iso
from poster.platforms.base import Engagement, Mention

UTC = timezone.utc
NOW = datetime.now(UTC)
HOUR = timedelta(hours=1)
SELECTOR_POSTS = 12  # twitter's own posts ranked by the selector, each with a snapshot near 24 h


class Page(HTMLParser):
    """The parts of index.html the tests read: tables by id (rows of cell texts), image sources, empty notes."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.images: list[str] = []
        self.empty: list[str] = []
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._in_empty = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "table":
            self._table = attributes.get("id")
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.images.append(attributes["src"])
        elif tag == "p" and attributes.get("class") == "empty":
            self._in_empty = True

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[self._table][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self._table = None
        elif tag == "p":
            self._in_empty = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._in_empty:
            self.empty.append(data)

    def rows(self, table_id: str) -> dict[str, list[str]]:
        """The table's body rows keyed by their first cell."""
        return {row[0]: row[1:] for row in self.tables[table_id][1:]}

    def keyed_rows(self, table_id: str) -> dict[tuple[str, str], list[str]]:
        """The table's body rows keyed by their first two cells."""
        return {(row[0], row[1]): row[2:] for row in self.tables[table_id][1:]}


@pytest.fixture
def invoke(monkeypatch):
    monkeypatch.delenv("LORECAST_LEDGER", raising=False)
    return lambda *args: lorecast("ledger", *args)


def post(ledger: Ledger, db: sqlite3.Connection, platform: str, text: str, *, days_ago: float, score: float | None,
         ranked_by: str = "selector", exploratory: bool | None = False, reply_to: int | None = None,
         snapshots: tuple[tuple[float, int], ...] = ()) -> int:
    """A posted post, backdated to `days_ago`, with snapshots of (hours after posting, likes)."""
    post_id = ledger.begin(platform, "@bot", text, score=score, ranked_by=ranked_by, rng_seed=1,
                           exploratory=exploratory, reply_to=reply_to)
    ledger.mark_posted(post_id, f"remote-{post_id}")
    posted_at = NOW - timedelta(days=days_ago)
    db.execute("UPDATE posts SET posted_at = ? WHERE id = ?", (iso(posted_at), post_id))  # the ledger has no backdating
    for hours, likes in snapshots:
        ledger.record_engagement(post_id, Engagement(likes=likes), fetched_at=posted_at + hours * HOUR)
    return post_id


def generation(rejected: dict[str, int], candidates: int = 8, texts: int = 2) -> Generation:
    return Generation(texts=[None] * texts, seed=None, seed_requested=None, prompt=None, rng_seed=3,  # type: ignore[list-item]
                      ranked_by="selector", candidates=candidates, rejected=rejected, missing=0, batch_size=1, raw={})


def mention(number: int) -> Mention:
    return Mention(f"at://m/{number}", "reader", "did:plc:reader", f"@bot tell me more {number}",
                   NOW - timedelta(days=2))


@pytest.fixture
def ledger_path(tmp_path):
    """Two platforms. twitter: 12 selector posts whose 24 h engagement rises with their score (one a day, every
    third exploratory), one too young, one with a snapshot at 3 h only, a failed post, two billed calls.
    bluesky: a logprob post, an unknown-pick post, a reply to an answered mention, a skipped mention, an unknown
    post."""
    path = tmp_path / "posts.db"
    with Ledger(path) as ledger:
        db = sqlite3.connect(path, isolation_level=None)
        for index in range(SELECTOR_POSTS):
            post(ledger, db, "twitter", f"Selector post {index}.", days_ago=3 + index % 4, score=0.05 * (index + 1),
                 exploratory=index % 3 == 0, snapshots=((2, 0), (23, 10 * index), (60, 100 * index)))
        post(ledger, db, "twitter", "Too young.", days_ago=0.25, score=0.9, snapshots=((1, 5),))
        post(ledger, db, "twitter", "Read only at 3 h.", days_ago=5, score=0.5, snapshots=((3, 8),))
        ledger.mark_failed(ledger.begin("twitter", "@bot", "Refused.", score=0.3, ranked_by="selector", rng_seed=2),
                           "403 from X")
        ledger.record_call("twitter", "@bot", "post", 1, 0.01)
        ledger.record_call("twitter", "@bot", "read", 5, 0.025)

        post(ledger, db, "bluesky", "Ranked by logprob.", days_ago=4, score=-1.2, ranked_by="logprob",
             snapshots=((24, 6),))
        post(ledger, db, "bluesky", "Pick not recorded.", days_ago=4, score=0.7, exploratory=None,
             snapshots=((25, 2),))
        ledger.record_mentions("bluesky", "@bot", [mention(1), mention(2)], cursor="c2")
        answered, skipped = sorted(row.id for row in ledger.mentions())
        post(ledger, db, "bluesky", "A reply.", days_ago=2, score=0.6, reply_to=answered, snapshots=((24, 40),))
        ledger.skip_mention(skipped, "thread cap")
        ledger.mark_unknown(ledger.begin("bluesky", "@bot", "Timed out.", score=0.4, ranked_by="selector",
                                         rng_seed=5), "timeout")

        ledger.record_generation("twitter", "@bot", "post", generation({"blocklist": 2, "novelty": 3}))
        ledger.record_generation("twitter", "@bot", "post", generation({"novelty": 1}, candidates=4, texts=3))
        ledger.record_generation("twitter", "@bot", "reply", generation({"toxicity": 1}))
        ledger.record_generation("bluesky", "@bot", "post", generation({"novelty": 4, "length": 1}))
        db.close()
    return path


def render(invoke, ledger_path: Path, out: Path, *args: str) -> Page:
    result = invoke("report", "--ledger", ledger_path, "-o", out, *args)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out / "index.html")
    return Page((out / "index.html").read_text(encoding="utf-8"))


def assert_png(path: Path) -> None:
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.width >= 400 and image.height >= 250, image.size
        image.verify()
    with Image.open(path) as image:
        colors = image.convert("RGB").getcolors(maxcolors=1 << 16)
        assert colors is None or len(colors) > 10  # drawn on, not a blank canvas


def test_the_report_draws_every_chart_as_a_valid_png(invoke, ledger_path, tmp_path):
    out = tmp_path / "report"
    page = render(invoke, ledger_path, out)

    assert sorted(page.images) == ["activity.png", "picks.png", "rejections.png", "score_deciles.png"]
    for name in page.images:
        assert_png(out / name)
    assert page.empty == []
    assert sorted(path.name for path in out.iterdir()) == sorted(page.images + ["index.html"])


def test_the_summary_counts_posts_mentions_and_costs(invoke, ledger_path, tmp_path):
    page = render(invoke, ledger_path, tmp_path / "report")

    # platform: pending, posted, failed, unknown, of them replies
    assert page.rows("posts-by-state") == {"bluesky": ["0", "3", "0", "1", "1"],
                                           "twitter": ["0", "14", "1", "0", "0"]}
    assert page.rows("mentions-by-state") == {"bluesky": ["0", "1", "1", "0"]}  # new, answered, skipped, failed
    assert page.rows("costs") == {"twitter": ["0.035"]}  # 0.01 + 0.025


def test_engagement_is_read_at_the_age_and_the_posts_without_a_number_are_counted(invoke, ledger_path, tmp_path):
    page = render(invoke, ledger_path, tmp_path / "report")

    coverage = page.rows("engagement-coverage")
    # posted, with a number at 24 h, too young, no snapshot near the age, median, mean, with any snapshot, mean latest
    twitter_at_age = [10 * index for index in range(SELECTOR_POSTS)]  # the 23 h snapshots: 0, 10, ..., 110
    assert coverage["twitter"][:4] == ["14", "12", "1", "1"]
    assert coverage["twitter"][4:6] == ["55.00", f"{sum(twitter_at_age) / SELECTOR_POSTS:.2f}"]
    assert coverage["twitter"][6] == "14"
    assert coverage["bluesky"][:4] == ["2", "2", "0", "0"]  # the reply is not an own post

    later = render(invoke, ledger_path, tmp_path / "at-3h", "--at-age", "3h")
    # At 3 h the 2 h snapshots count (1 h off, within half the age), and so does the post read at 3 h; the post
    # of 6 h ago is old enough now, but its one snapshot (at 1 h) is too far from 3 h.
    assert later.rows("engagement-coverage")["twitter"][:4] == ["14", "13", "0", "1"]


def test_the_selector_deciles_show_engagement_rising_with_the_score(invoke, ledger_path, tmp_path):
    page = render(invoke, ledger_path, tmp_path / "report")

    deciles = page.keyed_rows("score-deciles")
    twitter = [deciles[("twitter", str(decile))] for decile in range(1, 11)]
    assert sum(int(row[1]) for row in twitter) == SELECTOR_POSTS
    assert twitter[0][0] == "0.050 – 0.050" and twitter[-1][0] == "0.550 – 0.600"  # 12 posts in 10 groups
    means = [float(row[2]) for row in twitter]
    assert means == sorted(means) and means[0] < means[-1]
    correlation = page.rows("score-correlation")
    assert correlation["twitter"] == ["12", "+1.00", "0"]
    assert correlation["bluesky"] == ["1", "–", "1"]  # the logprob post is left out; one post has no correlation


def test_explore_and_exploit_picks_are_counted_with_their_engagement(invoke, ledger_path, tmp_path):
    page = render(invoke, ledger_path, tmp_path / "report")

    picks = page.keyed_rows("picks")  # posted, with a number, mean, median
    explored = [10 * index for index in range(SELECTOR_POSTS) if index % 3 == 0]  # 0, 30, 60, 90
    assert picks[("twitter", "explore")] == ["4", "4", f"{sum(explored) / 4:.2f}", "45.00"]
    assert picks[("twitter", "exploit")][:2] == ["10", "8"]  # the too-young and the 3 h posts have no number
    assert picks[("twitter", "unknown")][:2] == ["0", "0"]
    assert picks[("bluesky", "unknown")] == ["1", "1", "2.00", "2.00"]


def test_rejections_are_totalled_per_filter_and_platform(invoke, ledger_path, tmp_path):
    page = render(invoke, ledger_path, tmp_path / "report")

    assert page.tables["rejections"][0] == ["filter", "bluesky", "twitter", "all"]
    assert page.rows("rejections") == {"blocklist": ["0", "2", "2"], "length": ["1", "0", "1"],
                                       "novelty": ["4", "4", "8"], "toxicity": ["0", "1", "1"]}
    # generations, candidates, texts returned, rejected
    assert page.keyed_rows("generations") == {("bluesky", "post"): ["1", "8", "2", "5"],
                                              ("twitter", "post"): ["2", "12", "5", "6"],
                                              ("twitter", "reply"): ["1", "8", "2", "1"]}


def test_an_empty_ledger_renders_with_no_data_for_every_chart(invoke, tmp_path):
    path = tmp_path / "posts.db"
    Ledger(path).close()
    page = render(invoke, path, tmp_path / "report")

    assert page.images == []
    assert sum(note.startswith("no data yet") for note in page.empty) == 5  # the summary and the four charts
    assert sorted(page.tables) == []


def test_a_ledger_of_an_older_schema_is_migrated_and_reported(invoke, tmp_path):
    path = tmp_path / "posts.db"
    raw = ledger_at_schema(path, 3)
    stamp = iso(NOW - timedelta(days=3))
    raw.execute("INSERT INTO posts (platform, account, text, text_key, state, remote_id, score, ranked_by, "
                "created_at, updated_at, posted_at) VALUES ('mastodon', '@bot', 'Old.', 'k', 'posted', '5', 0.4, "
                "'selector', ?, ?, ?)", (stamp, stamp, stamp))
    raw.close()
    page = render(invoke, path, tmp_path / "report")

    assert page.rows("posts-by-state") == {"mastodon": ["0", "1", "0", "0", "0"]}
    assert page.keyed_rows("picks")[("mastodon", "unknown")][0] == "1"
    assert "activity.png" in page.images


def test_a_missing_ledger_is_a_clear_error_and_writes_nothing(invoke, tmp_path):
    out = tmp_path / "report"
    result = invoke("report", "--ledger", tmp_path / "nowhere.db", "-o", out)

    assert result.exit_code == 1
    assert "nowhere.db: no ledger there" in result.stderr
    assert not out.exists() and not (tmp_path / "nowhere.db").exists()


def test_the_report_dir_is_replaced_only_with_force_and_only_when_it_holds_a_report(invoke, ledger_path, tmp_path):
    out = tmp_path / "report"
    render(invoke, ledger_path, out)
    again = invoke("report", "--ledger", ledger_path, "-o", out)
    assert again.exit_code == 1 and "pass --force" in again.stderr
    (out / "stale.png").write_bytes(b"old")
    render(invoke, ledger_path, out, "--force")
    assert not (out / "stale.png").exists()  # replaced whole

    other = tmp_path / "photos"
    other.mkdir()
    (other / "cat.jpg").write_bytes(b"meow")
    refused = invoke("report", "--ledger", ledger_path, "-o", other, "--force")
    assert refused.exit_code == 1 and "refusing to replace it even with --force" in refused.stderr
    assert (other / "cat.jpg").read_bytes() == b"meow"


@pytest.mark.parametrize(("given", "hours"),
                         [("24h", 24), ("90m", 1.5), ("2d", 48), ("36", 36), ("0.5h", 0.5), ("45s", 0.0125)])
def test_at_age_takes_hours_minutes_or_days(invoke, ledger_path, tmp_path, given, hours):
    page = render(invoke, ledger_path, tmp_path / "report", "--at-age", given)
    assert f"with a number at {hours:g} h" in page.tables["engagement-coverage"][0]


@pytest.mark.parametrize("given", ["soon", "0", "-3h", "3w"])
def test_a_bad_age_is_a_usage_error(invoke, ledger_path, tmp_path, given):
    result = invoke("report", "--ledger", ledger_path, "-o", tmp_path / "report", "--at-age", given)
    assert result.exit_code == 2
    assert "is not a positive age" in result.stderr


def test_without_matplotlib_the_command_names_the_extra_to_install(invoke, ledger_path, tmp_path, monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *rest: None if name == "matplotlib" else real_find_spec(name, *rest))
    result = invoke("report", "--ledger", ledger_path, "-o", tmp_path / "report")

    assert result.exit_code == 1
    assert "pip install 'lorecast[inspect]'" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_the_ledger_commands_and_the_report_numbers_do_not_load_matplotlib():
    code = "import sys, poster.commands.ledger, poster.report.stats; print('matplotlib' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
