"""`lorecast post` and `lorecast feedback` against the local test platform (real OAuth1 signatures, verified by
oauthlib) and the TorchServe stand-in: the ledger stays consistent through every fault and no text is posted twice.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from cli_harness import lorecast, start_lorecast, wait_for
from platform_server import DropAfterAccept, Duplicate, LateAccept, RateLimit, Slow, Status

from poster.commands.exits import EXIT_BUSY, EXIT_RATE_LIMITED
from poster.ledger import Ledger


def ledger_rows(env):
    with Ledger(Path(env["LORECAST_LEDGER"])) as ledger:
        return ledger.posts()


def secrets_of(platform_server):
    return [*platform_server.twitter_credentials.secrets(), *platform_server.tumblr_credentials.secrets()]


def assert_no_secret(platform_server, *texts):
    for secret in secrets_of(platform_server):
        for text in texts:
            assert secret not in text


def test_a_post_publishes_the_best_text_and_records_it(env, platform_server):
    code, out, err = lorecast("post", "twitter")
    assert code == 0, err
    [published] = platform_server.posts("twitter")
    [row] = ledger_rows(env)
    assert out.strip() == published.text == row.text
    assert (row.state, row.remote_id, row.platform, row.account) == (
        "posted", published.id, "twitter", platform_server.twitter_user.username)
    assert row.exploratory is False  # the stand-in's first text is its best, not an exploratory pick
    with Ledger(Path(env["LORECAST_LEDGER"])) as ledger:
        [generation] = ledger.generations()
    assert (generation.kind, generation.ranked_by) == ("post", row.ranked_by) and generation.texts >= 1
    assert_no_secret(platform_server, out, err)


def test_the_next_run_never_posts_the_same_text_again(env, platform_server):
    # The stand-in answers every run with the same candidates, best first.
    for _ in range(3):
        assert lorecast("post", "twitter")[0] == 0
    texts = [post.text for post in platform_server.posts("twitter")]
    assert len(texts) == len(set(texts)) == 3
    assert [row.state for row in ledger_rows(env)] == ["posted"] * 3


def test_tumblr_posts_with_tags(env, platform_server):
    code, out, err = lorecast("post", "tumblr")
    assert code == 0, err
    [published] = platform_server.posts("tumblr")
    assert published.text == out.strip() and list(published.tags) == ["bot", "lore"]
    assert ledger_rows(env)[0].remote_id == published.id


def test_a_duplicate_refusal_fails_that_row_and_the_next_candidate_is_posted(env, platform_server):
    platform_server.inject("twitter", "^/2/tweets$", Duplicate())
    code, out, err = lorecast("post", "twitter")
    assert code == 0, err
    rows = sorted(ledger_rows(env), key=lambda row: row.id)
    assert [row.state for row in rows] == ["failed", "posted"]
    assert "duplicate" in rows[0].reason
    assert [post.text for post in platform_server.posts("twitter")] == [rows[1].text]


def test_a_rate_limit_that_resets_soon_is_waited_out(env, platform_server):
    platform_server.inject("twitter", "^/2/tweets$", RateLimit(1))
    started = time.monotonic()
    code, _, err = lorecast("post", "twitter")
    assert code == 0, err
    assert time.monotonic() - started >= 1
    assert "waiting" in err
    assert len(platform_server.posts("twitter")) == 1
    assert [row.state for row in sorted(ledger_rows(env), key=lambda row: row.id)] == ["posted"]


def test_a_rate_limit_past_the_deadline_exits_with_its_own_code(env, platform_server):
    platform_server.inject("twitter", "^/2/tweets$", RateLimit(3600))
    code, _, err = lorecast("post", "twitter", "--deadline", "60")
    assert code == EXIT_RATE_LIMITED
    assert err.strip().splitlines()[-1].startswith("error: twitter rate limit")
    assert platform_server.posts("twitter") == []
    [row] = ledger_rows(env)
    assert row.state == "failed" and "rate limited" in row.reason


def test_a_server_error_leaves_the_row_unknown_until_a_later_run_settles_it(env, platform_server):
    # A 5xx may come after X took the post: the row is neither posted nor failed, and its text stays blocked.
    platform_server.inject("twitter", "^/2/tweets$", Status(503))
    code, _, err = lorecast("post", "twitter")
    assert code == 1 and err.startswith("error: ") and err.count("\n") == 1 and "later runs look again" in err
    [row] = ledger_rows(env)
    assert row.state == "unknown" and platform_server.posts("twitter") == []
    assert_no_secret(platform_server, err, row.reason)
    # The next run looks again, finds nothing yet, and posts another text.
    assert lorecast("post", "twitter")[0] == 0
    first, second = sorted(ledger_rows(env), key=lambda row: row.id)
    assert (first.state, second.state) == ("unknown", "posted")
    assert [post.text for post in platform_server.posts("twitter")] == [second.text] != [first.text]
    # Past the settling time a lookup that still finds nothing frees the text.
    assert lorecast("post", "twitter", "--settle-after", "0")[0] == 0
    assert ledger_rows(env)[-1].state == "failed"


def test_a_connection_dropped_after_the_post_was_accepted_is_resolved_as_posted(env, platform_server):
    platform_server.inject("twitter", "^/2/tweets$", DropAfterAccept())
    code, _, err = lorecast("post", "twitter")
    assert code == 0, err
    [published] = platform_server.posts("twitter")
    [row] = ledger_rows(env)
    assert (row.state, row.remote_id) == ("posted", published.id)


def test_wrong_credentials_fail_cleanly(env, platform_server, monkeypatch):
    monkeypatch.setenv("LORECAST_TWITTER_ACCESS_SECRET", "wrongwrongwrong")
    code, _, err = lorecast("post", "twitter")
    assert code == 1 and err.count("\n") == 1
    assert platform_server.posts("twitter") == []
    assert all(row.state != "pending" for row in ledger_rows(env))
    assert_no_secret(platform_server, err)


def test_missing_credentials_are_named_not_shown(env, monkeypatch):
    monkeypatch.delenv("LORECAST_TWITTER_ACCESS_TOKEN")
    code, _, err = lorecast("post", "twitter")
    assert code == 1 and "LORECAST_TWITTER_ACCESS_TOKEN" in err


def test_dry_run_publishes_and_records_nothing(env, platform_server):
    code, out, err = lorecast("post", "twitter", "--dry-run")
    assert code == 0, err and out.strip()
    assert platform_server.posts("twitter") == []
    assert ledger_rows(env) == []


def test_the_stdout_platform_prints_and_records(env):
    code, out, err = lorecast("post", "stdout")
    assert code == 0, err
    [row] = ledger_rows(env)
    assert row.state == "posted" and row.text in out and row.remote_id.startswith("stdout-")


def test_feedback_stores_engagement_for_the_selector(env, platform_server):
    for _ in range(3):
        assert lorecast("post", "twitter")[0] == 0
    posts = platform_server.posts("twitter")
    for likes, post in enumerate(posts, 1):
        platform_server.set_engagement("twitter", post.id, like_count=likes, retweet_count=1)
    code, _, err = lorecast("feedback", "twitter")
    assert code == 0, err
    with Ledger(Path(env["LORECAST_LEDGER"])) as ledger:
        history = ledger.engagement_history("twitter")
    assert sorted(total for _, _, total in history) == [2, 3, 4]


def test_tumblr_feedback_reads_note_counts(env, platform_server):
    assert lorecast("post", "tumblr")[0] == 0
    [post] = platform_server.posts("tumblr")
    platform_server.set_engagement("tumblr", post.id, note_count=7)
    assert lorecast("feedback", "tumblr")[0] == 0
    with Ledger(Path(env["LORECAST_LEDGER"])) as ledger:
        [(_, text, total)] = ledger.engagement_history("tumblr")
    assert (text, total) == (post.text, 7)


# --- real processes: a run killed mid-post, and two runs at once ------------------------------------------------

def start_poster(env, *args):
    return start_lorecast("post", *args, env=env)


def kill_while_sending(env, platform_server):
    """A run killed (SIGKILL) between sending and recording: X takes the post at once but answers only after 30 s,
    and the run dies while it waits."""
    platform_server.inject("twitter", "^/2/tweets$", Slow(30))
    run = start_poster(env, "twitter")
    wait_for(lambda: platform_server.posts("twitter"))
    os.kill(run.pid, signal.SIGKILL)
    run.wait()


def test_a_run_killed_between_sending_and_recording_posts_nothing_twice(env, platform_server):
    kill_while_sending(env, platform_server)
    [row] = ledger_rows(env)
    assert row.state == "pending"

    again = start_poster(env, "twitter")
    out, err = again.communicate(timeout=60)
    assert again.returncode == 0, err
    assert "of an earlier run: it is on twitter" in err
    published = platform_server.posts("twitter")
    texts = [post.text for post in published]
    assert len(texts) == len(set(texts)) == 2  # the killed run's text once, and one new text
    rows = sorted(ledger_rows(env), key=lambda row: row.id)
    assert [(row.state, row.remote_id) for row in rows] == [("posted", post.id) for post in published]


def test_two_runs_started_at_the_same_instant_post_once(env, platform_server):
    platform_server.inject("twitter", "^/2/tweets$", Slow(2))  # hold the lock long enough to overlap
    runs = [start_poster(env, "twitter") for _ in range(2)]
    results = [run.communicate(timeout=60) for run in runs]
    codes = sorted(run.returncode for run in runs)
    assert codes == [0, EXIT_BUSY], results
    assert len(platform_server.posts("twitter")) == 1
    assert [row.state for row in ledger_rows(env)] == ["posted"]


def test_a_crash_with_the_lookup_refused_does_not_block_the_next_run(env, platform_server):
    # Killed between sending and recording; then X refuses the timeline read (an access level without reads):
    # the row cannot be resolved, so it becomes unknown, its text stays blocked, and the run posts another text
    # instead of failing on every run until reads come back.
    kill_while_sending(env, platform_server)
    platform_server.inject("twitter", "^/2/users/[^/]+/tweets$", Status(403))
    code, _, err = lorecast("post", "twitter")
    assert code == 0, err
    assert "still unresolved (the lookup failed" in err and "ledger settle" in err
    killed, new = sorted(ledger_rows(env), key=lambda row: row.id)
    assert (killed.state, new.state) == ("unknown", "posted")
    texts = [post.text for post in platform_server.posts("twitter")]
    assert texts == [killed.text, new.text] and killed.text != new.text
    # Reads are back: the next run finds the killed run's post and records it.
    assert lorecast("post", "twitter")[0] == 0
    rows = {row.id: row for row in ledger_rows(env)}
    assert (rows[killed.id].state, rows[killed.id].remote_id) == ("posted", platform_server.posts("twitter")[0].id)
    assert len(platform_server.posts("twitter")) == 3


def test_a_post_that_timed_out_stays_unresolved_until_a_later_run_finds_it(env, platform_server):
    # X takes the post only after the client gave up (the answer came past --timeout): an immediate lookup
    # finds nothing. That is no proof it failed: the row stays unknown and its text blocked.
    platform_server.inject("twitter", "^/2/tweets$", LateAccept(2))
    code, _, err = lorecast("post", "twitter", "--timeout", "1")
    assert code == 1 and "no answer within 1 s" in err and "later runs look again" in err, err
    [row] = ledger_rows(env)
    assert row.state == "unknown"
    wait_for(lambda: platform_server.posts("twitter"))  # the tweet is out after all
    assert lorecast("post", "twitter")[0] == 0
    rows = {ledger_row.id: ledger_row for ledger_row in ledger_rows(env)}
    published = platform_server.posts("twitter")
    assert (rows[row.id].state, rows[row.id].remote_id) == ("posted", published[0].id)
    texts = [post.text for post in published]
    assert len(texts) == len(set(texts)) == 2
