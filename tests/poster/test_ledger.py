"""The poster's ledger (poster/ledger.py): states, the same-text guarantee, the run lock, engagement, opening.

The concurrency tests use real processes (forked), each with its own connection, as two CronJob runs would.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import re
import signal
import sqlite3
import time
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone

import pytest

from lorecast.errors import DuplicateText, LedgerBusy, LedgerError
from poster.ledger import SCHEMA_VERSION, Ledger, holder_id, text_key
from poster.platforms.base import Engagement
from textrules.forms import ledger_form
from trainer.engagement import label_by_engagement

FORK = multiprocessing.get_context("fork")
UTC = timezone.utc


@pytest.fixture
def path(tmp_path):
    return tmp_path / "ledger" / "posts.db"


@pytest.fixture
def ledger(path):
    with Ledger(path) as opened:
        yield opened


def begin(ledger: Ledger, text: str, platform: str = "twitter", account: str = "@bot") -> int:
    return ledger.begin(platform, account, text, score=0.5, ranked_by="logprob", rng_seed=1)


def posted(ledger: Ledger, text: str, remote_id: str, **where: str) -> int:
    post_id = begin(ledger, text, **where)
    ledger.mark_posted(post_id, remote_id)
    return post_id


# -- the same text, never twice -------------------------------------------------------------------------------

def test_text_key_ignores_case_width_and_spacing_but_not_words():
    same = ["Hello  World.", " hello world.\n", "HELLO\tWORLD.", "Ｈｅｌｌｏ ｗｏｒｌｄ．", "hello\u00a0world."]
    assert {text_key(text) for text in same} == {text_key("hello world.")}
    assert ledger_form(same[0]) == "hello world."
    assert text_key("Hello, World.") != text_key("Hello World.")
    assert text_key("Straße") == text_key("STRASSE")  # casefold, not lower()


def test_a_pending_or_posted_text_is_refused_and_a_failed_one_frees_it(ledger):
    first = begin(ledger, "The daemon sleeps.")
    with pytest.raises(DuplicateText, match=rf"twitter account '@bot' already has this text \(pending post {first}\)"):
        begin(ledger, "the  DAEMON sleeps. ")

    ledger.mark_failed(first, "HTTP 503 from the platform")
    second = begin(ledger, "the  DAEMON sleeps. ")
    ledger.mark_posted(second, "1001")
    with pytest.raises(DuplicateText, match=rf"\(posted post {second}\)"):
        begin(ledger, "The daemon sleeps.")

    # The claim is per account and platform.
    begin(ledger, "The daemon sleeps.", account="@other")
    begin(ledger, "The daemon sleeps.", platform="tumblr")
    assert [row.state for row in ledger.posts(platform="twitter", account="@bot")] == ["posted", "failed"]


def test_the_database_itself_refuses_a_second_live_row(ledger, path):
    post_id = begin(ledger, "Kernel panic.")
    key = text_key("Kernel panic.")
    raw = sqlite3.connect(path)
    insert = ("INSERT INTO posts (platform, account, text, text_key, state, created_at, updated_at) "
              "VALUES ('twitter', '@bot', 'kernel panic.', ?, ?, ?, ?)")
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        raw.execute(insert, (key, "pending", now, now))
    raw.execute(insert, (key, "failed", now, now))  # failed rows hold no claim
    raw.commit()
    raw.close()
    ledger.mark_failed(post_id, "refused")
    assert [row.state for row in ledger.posts()] == ["failed", "failed"]


def test_has_text_sees_pending_and_posted_texts_only(ledger):
    assert not ledger.has_text("twitter", "@bot", "A hack.")
    post_id = begin(ledger, "A hack.")
    assert ledger.has_text("twitter", "@bot", "a HACK.")
    assert not ledger.has_text("twitter", "@someone", "a HACK.")
    ledger.mark_posted(post_id, "77")
    assert ledger.has_text("twitter", "@bot", "A hack.")
    failed = begin(ledger, "A kludge.")
    ledger.mark_failed(failed, "too long")
    assert not ledger.has_text("twitter", "@bot", "A kludge.")


def test_a_blank_text_cannot_begin(ledger):
    with pytest.raises(ValueError, match="blank"):
        begin(ledger, " \n\t")


# -- states ---------------------------------------------------------------------------------------------------

def test_pending_then_posted_keeps_what_the_run_knew(ledger):
    before = datetime.now(UTC)
    post_id = ledger.begin("tumblr", "lorecast-bot", "Foo bar baz.", score=0.82, ranked_by="selector",
                           rng_seed=9223372036854775807)
    [row] = ledger.unresolved("tumblr", "lorecast-bot")
    assert (row.id, row.state, row.text, row.text_key) == (post_id, "pending", "Foo bar baz.", text_key("foo bar baz."))
    assert (row.score, row.ranked_by, row.rng_seed) == (0.82, "selector", 9223372036854775807)
    assert row.remote_id is None and row.posted_at is None
    assert before <= row.created_at == row.updated_at <= datetime.now(UTC)

    ledger.mark_posted(post_id, "733948573985")
    assert ledger.unresolved("tumblr", "lorecast-bot") == []
    [row] = ledger.posts()
    assert (row.state, row.remote_id, row.reason) == ("posted", "733948573985", None)
    assert row.created_at <= row.posted_at == row.updated_at
    assert row.posted_at.tzinfo is not None and row.posted_at.utcoffset() == timedelta(0)


def test_a_failure_keeps_its_reason_and_only_pending_posts_change(ledger, path):
    post_id = begin(ledger, "Cruft.")
    ledger.mark_failed(post_id, "403 from X: you are not allowed to create a Tweet with duplicate content")
    [row] = ledger.posts(state="failed")
    assert row.reason == "403 from X: you are not allowed to create a Tweet with duplicate content"
    assert row.remote_id is None and row.posted_at is None

    with pytest.raises(LedgerError, match=rf"{re.escape(str(path))}: post {post_id} is failed, not pending"):
        ledger.mark_posted(post_id, "1")
    with pytest.raises(LedgerError, match="no post 999"):
        ledger.mark_failed(999, "gone")
    assert ledger.posts(state="posted") == []


def test_pending_lists_oldest_first_and_posts_newest_first_with_filters(ledger):
    ids = [begin(ledger, f"Text {n}.", platform=platform) for n, platform in
           enumerate(["twitter", "tumblr", "twitter", "twitter"])]
    ledger.mark_posted(ids[2], "r2")

    assert [row.id for row in ledger.unresolved("twitter", "@bot")] == [ids[0], ids[3]]
    assert [row.id for row in ledger.posts()] == ids[::-1]
    assert [row.id for row in ledger.posts(limit=2)] == [ids[3], ids[2]]
    assert [row.id for row in ledger.posts(platform="twitter", state="pending")] == [ids[3], ids[0]]
    assert ledger.posts(account="@nobody") == []
    with pytest.raises(ValueError, match="state must be one of"):
        ledger.posts(state="sent")


def test_posted_since_returns_the_accounts_posts_from_then_on(ledger):
    old = posted(ledger, "Old.", "1")
    cut = datetime.now(UTC)
    new = posted(ledger, "New.", "2")
    posted(ledger, "Elsewhere.", "3", account="@other")
    begin(ledger, "Still pending.")

    assert [row.id for row in ledger.posted_since("twitter", "@bot", cut)] == [new]
    assert [row.id for row in ledger.posted_since("twitter", "@bot", cut - timedelta(hours=1))] == [old, new]
    # Another zone, the same instant.
    later = cut.astimezone(timezone(timedelta(hours=-5)))
    assert [row.id for row in ledger.posted_since("twitter", "@bot", later)] == [new]
    with pytest.raises(ValueError, match="naive"):
        ledger.posted_since("twitter", "@bot", datetime.now())


# -- engagement -----------------------------------------------------------------------------------------------

def test_the_latest_metrics_count_and_earlier_ones_are_kept(ledger):
    first = posted(ledger, "First.", "1")
    second = posted(ledger, "Second.", "2")
    begin(ledger, "Never posted.")
    now = datetime.now(UTC)
    ledger.record_engagement(first, Engagement(likes=1), fetched_at=now - timedelta(hours=2))
    ledger.record_engagement(first, Engagement(likes=5, reposts=2, replies=1, quotes=1, impressions=400),
                             fetched_at=now)
    ledger.record_engagement(first, Engagement(likes=3), fetched_at=now - timedelta(hours=1))  # arrives late

    latest = ledger.latest_metrics()
    assert set(latest) == {first}
    newest = latest[first]
    assert (newest.likes, newest.reposts, newest.impressions, newest.total) == (5, 2, 400, 9)
    assert newest.fetched_at == now
    assert ledger.latest_metrics([second]) == {}

    ledger.record_engagement(second, Engagement(likes=2))
    assert ledger.latest_metrics([second])[second].impressions is None
    assert ledger.engagement_history() == [(ledger.posts(state="posted")[1].posted_at, "First.", 9.0),
                                           (ledger.posts(state="posted")[0].posted_at, "Second.", 2.0)]
    with pytest.raises(LedgerError, match="no post 4242"):
        ledger.record_engagement(4242, Engagement(likes=1))


def test_engagement_history_filters_and_feeds_the_selectors_labels(ledger):
    for n in range(8):
        post_id = posted(ledger, f"Post number {n}.", str(n))
        ledger.record_engagement(post_id, Engagement(likes=n))
    other = posted(ledger, "On tumblr.", "t1", platform="tumblr", account="blog")
    ledger.record_engagement(other, Engagement(likes=100))

    history = ledger.engagement_history("twitter", "@bot")
    assert [(text, total) for _, text, total in history] == [(f"Post number {n}.", float(n)) for n in range(8)]
    assert [text for _, text, _ in ledger.engagement_history(platform="tumblr")] == ["On tumblr."]
    assert len(ledger.engagement_history()) == 9

    labels = dict(label_by_engagement(history, window=timedelta(days=1), quantile=0.25, min_window_posts=5))
    assert labels["Post number 7."] == 1 and labels["Post number 0."] == 0


# -- opening --------------------------------------------------------------------------------------------------

def test_a_new_ledger_gets_its_directory_wal_and_schema_version_and_reopens_with_its_rows(path):
    with Ledger(path) as ledger:
        post_id = posted(ledger, "Kept.", "5")
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    raw.close()
    with Ledger(path, create=False) as ledger:
        assert [(row.id, row.remote_id) for row in ledger.posts()] == [(post_id, "5")]


@pytest.mark.parametrize("content, reason", [
    (b"", "no ledger there"),
    (b"this is a text file, not SQLite\n" * 200, "not a readable lorecast ledger"),
])
def test_a_missing_or_corrupt_file_is_one_clear_error(path, content, reason):
    if content:
        path.parent.mkdir(parents=True)
        path.write_bytes(content)
    with pytest.raises(LedgerError, match=re.escape(f"{path}: {reason}")) as caught:
        Ledger(path, create=False)
    assert "\n" not in str(caught.value)
    if not content:
        assert not path.exists()  # reading never creates a ledger


def test_another_applications_database_is_refused_and_left_as_it_was(path):
    path.parent.mkdir(parents=True)
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE notes (body TEXT)")
    raw.commit()
    raw.close()
    with pytest.raises(LedgerError, match="not a lorecast ledger .*other tables"):
        Ledger(path)
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert raw.execute("SELECT name FROM sqlite_master").fetchall() == [("notes",)]
    raw.close()


def test_a_ledger_from_a_newer_lorecast_is_refused(path):
    Ledger(path).close()
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(LedgerError, match=f"schema version {SCHEMA_VERSION + 1}, written by a newer lorecast"):
        Ledger(path)


def test_an_empty_sqlite_file_is_no_ledger_to_read_but_one_to_create(path):
    path.parent.mkdir(parents=True)
    path.touch()
    with pytest.raises(LedgerError, match="not a lorecast ledger"):
        Ledger(path, create=False)
    with Ledger(path) as ledger:
        begin(ledger, "Now it is one.")


# -- the run lock and other runs at once ----------------------------------------------------------------------

def run_together(target, *args_per_process) -> list:
    """Run `target(barrier, results, done, *args)` in one forked process per args tuple; each puts one result.

    The processes meet at `barrier` to act at the same instant; `done` is set once every result is in (a lock
    winner holds on until then). Returns the results in the order they came; no process outlives the call.
    """
    barrier, results, done = FORK.Barrier(len(args_per_process), timeout=20), FORK.Queue(), FORK.Event()
    processes = [FORK.Process(target=_reporting, args=(target, barrier, results, done, *args))
                 for args in args_per_process]
    for process in processes:
        process.start()
    try:
        return [results.get(timeout=30) for _ in processes]
    finally:
        done.set()
        for process in processes:
            process.join(20)
            if process.is_alive():
                process.kill()
                process.join()


def _reporting(target, barrier, results, done, *args):
    try:
        target(barrier, results, done, *args)
    except BaseException as error:  # an unexpected failure must reach the test, not hang it
        results.put(("error", f"{type(error).__name__}: {error}"))


def _race_for_the_lock(barrier, results, done, path):
    with Ledger(path) as ledger:
        holder = holder_id()
        barrier.wait()
        try:
            with ledger.lock("twitter", "@bot", holder=holder, stale_after_s=3600):
                results.put(("won", holder))
                done.wait(20)
        except LedgerBusy as busy:
            results.put(("busy", str(busy)))


def test_of_runs_that_ask_for_the_lock_at_the_same_instant_exactly_one_wins(path):
    Ledger(path).close()
    runs = 4
    outcomes = run_together(_race_for_the_lock, *[(path,)] * runs)

    winners = [detail for outcome, detail in outcomes if outcome == "won"]
    busy = [detail for outcome, detail in outcomes if outcome == "busy"]
    assert len(winners) == 1 and len(busy) == runs - 1, outcomes
    for message in busy:
        assert f"twitter account '@bot' is busy: run {winners[0]} has held its lock since" in message


def _begin_at_once(barrier, results, done, path, text):
    barrier.wait()
    with Ledger(path) as ledger:  # a new file: whichever run comes first creates the schema
        try:
            results.put(("pending", begin(ledger, text)))
        except DuplicateText as duplicate:
            results.put(("duplicate", str(duplicate)))


def test_runs_starting_together_on_a_new_ledger_claim_each_text_once(tmp_path):
    texts = ["Same text.", "same  TEXT.", "Other text.", "Same text."]
    for attempt in range(25):  # creating the schema at the same instant is a narrow race: give it chances
        path = tmp_path / f"posts-{attempt}.db"
        outcomes = run_together(_begin_at_once, *[(path, text) for text in texts])

        assert sorted(outcome for outcome, _ in outcomes) == ["duplicate", "duplicate", "pending", "pending"], \
            outcomes
        with Ledger(path) as ledger:
            assert sorted(ledger_form(row.text) for row in ledger.unresolved("twitter", "@bot")) == [
                "other text.", "same text."]


def _hold_the_lock_and_begin(barrier, results, done, path):
    ledger = Ledger(path)
    holder = holder_id()
    with ledger.lock("twitter", "@bot", holder=holder, stale_after_s=3600):
        results.put((holder, begin(ledger, "Sent when the run was killed.")))
        time.sleep(60)


def test_a_run_killed_while_holding_the_lock_leaves_it_to_the_next_run(path, caplog):
    results = FORK.Queue()
    process = FORK.Process(target=_reporting, args=(_hold_the_lock_and_begin, None, results, None, path))
    process.start()
    try:
        holder, post_id = results.get(timeout=20)
        with Ledger(path) as ledger:
            assert holder.split(":")[1] == str(process.pid)
            with pytest.raises(LedgerBusy, match=re.escape(f"run {holder} has held its lock since")):
                with ledger.lock("twitter", "@bot", holder=holder_id(), stale_after_s=3600):
                    pass
            os.kill(process.pid, signal.SIGKILL)
            process.join(20)
            assert process.exitcode == -signal.SIGKILL

            with caplog.at_level(logging.WARNING, logger="poster.ledger"):
                with ledger.lock("twitter", "@bot", holder="next:run", stale_after_s=3600):
                    # The killed run's post is left pending, for this run to resolve.
                    assert [row.id for row in ledger.unresolved("twitter", "@bot")] == [post_id]
            assert f"taking over the lock of run {holder}" in caplog.text and "process is gone" in caplog.text
    finally:
        if process.is_alive():
            process.kill()
            process.join()


def test_a_stale_lock_is_taken_over_and_a_fresh_one_of_another_host_is_not(ledger, path):
    with ExitStack() as stack:
        stack.enter_context(ledger.lock("twitter", "@bot", holder="elsewhere:1:aa", stale_after_s=3600))
        with Ledger(path) as second:
            with pytest.raises(LedgerBusy, match="run elsewhere:1:aa has held"):
                stack.enter_context(second.lock("twitter", "@bot", holder="here:2:bb", stale_after_s=3600))
            time.sleep(0.01)
            with second.lock("twitter", "@bot", holder="here:2:bb", stale_after_s=0.001):
                stack.close()  # the first holder finishes late: its release must not free the new holder's lock
                with pytest.raises(LedgerBusy, match="run here:2:bb has held"):
                    with ledger.lock("twitter", "@bot", holder="third:3:cc", stale_after_s=3600):
                        pass
        # Other accounts have their own lock.
        with ledger.lock("twitter", "@other", holder="third:3:cc", stale_after_s=3600):
            pass


def test_the_lock_is_released_when_the_run_ends_even_by_an_error(ledger):
    with pytest.raises(RuntimeError):
        with ledger.lock("tumblr", "blog", holder="elsewhere:1:aa", stale_after_s=3600):
            raise RuntimeError("the run failed")
    with ledger.lock("tumblr", "blog", holder="elsewhere:2:bb", stale_after_s=3600):
        pass
