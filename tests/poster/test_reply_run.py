"""`lorecast reply` end to end against the X stand-in (and TorchServe's): one reply per mention in its thread, the
cursor, the caps, the screen, a crash, and the stdout platform with a made-up mention. The faults a reply run
meets on all three platforms are in the fault matrix (test_fault_matrix.py)."""

from __future__ import annotations

import os
import signal

import pytest
from cli_harness import lorecast, start_lorecast, wait_for
from platform_server import RateLimit, Slow

from poster.ledger import Ledger


@pytest.fixture
def bot(env, platform_server):
    """The X stand-in with the bot (the env's account) and two people who talk to it."""
    platform_server.add_twitter_user("ann")
    platform_server.add_twitter_user("bob")
    return platform_server


def replies(server, account: str | None = None):
    """The replies on the X stand-in written by `account` (default: the bot)."""
    me = account or server.twitter_user.username
    return [post for post in server.posts("twitter", me) if post.in_reply_to is not None]


def mentions(env) -> list:
    with Ledger(env["LORECAST_LEDGER"]) as ledger:
        return sorted(ledger.mentions(), key=lambda row: row.id)


def reply_rows(env) -> list:
    with Ledger(env["LORECAST_LEDGER"]) as ledger:
        return [row for row in ledger.posts() if row.reply_to is not None]


def test_one_mention_gets_one_reply_in_its_thread_and_a_second_run_nothing(env, bot, standin):
    mention_id = bot.add_mention("ann", "What do you know about kernels and lanterns?")
    code, out, err = lorecast("reply", "twitter")
    assert code == 0, err
    [reply] = replies(bot)
    assert reply.in_reply_to == mention_id and reply.text.startswith("@ann ")
    assert out.strip() == reply.text
    assert "mentions: 1 new, 1 answered" in err
    # The request carried what was said, and the answer started from the word the response reported.
    [request] = [received.json() for received in standin.received if "reply_to" in received.json()]
    assert "kernels" in request["reply_to"]
    assert "seeded from 'kernels'" in err and reply.text.startswith("@ann kernel ")
    [row] = reply_rows(env)
    assert (row.state, row.remote_id) == ("posted", reply.id)
    [mention] = mentions(env)
    assert (mention.state, mention.mention.id, mention.mention.author) == ("answered", mention_id, "ann")

    code, _, err = lorecast("reply", "twitter")
    assert code == 0 and "mentions: 0 new, 0 answered" in err, err
    assert len(replies(bot)) == 1


def test_the_bots_own_post_is_never_answered(env, bot):
    me = bot.twitter_user.username
    bot.add_mention(me, f"Note to self, @{me}: lanterns.", of=me)
    code, _, err = lorecast("reply", "twitter")
    assert code == 0, err
    assert replies(bot, me) == []
    [mention] = mentions(env)
    assert (mention.state, mention.reason) == ("skipped", "own post")
    assert "own post 1" in err


def test_the_cursor_survives_restarts_and_a_gap_of_pages_is_followed(env, bot):
    bot.add_mention("ann", "First question about kernels?")
    assert lorecast("reply", "twitter")[0] == 0
    for number in range(130):  # more than one page of 100 since the cursor
        bot.add_mention("bob" if number % 2 else "ann", f"Question number {number} about lanterns?")
    code, _, err = lorecast("reply", "twitter", "--max-replies", "2")
    assert code == 0, err
    assert "mentions: 130 new, 2 answered" in err and "128 left for a later run" in err
    rows = mentions(env)
    assert len(rows) == 131 and len({row.mention.id for row in rows}) == 131
    assert len(replies(bot)) == 3
    # The author cap (3 a day) then skips the rest of ann's and bob's questions, and says so.
    code, _, err = lorecast("reply", "twitter", "--max-replies", "200")
    assert code == 0, err
    assert len(replies(bot)) == 6  # 3 each
    assert "author cap" in err


def test_a_run_killed_between_sending_and_recording_replies_once(env, bot):
    mention_id = bot.add_mention("ann", "Tell me about kernels?")
    bot.inject("twitter", "^/2/tweets$", Slow(30))  # X takes the reply at once, answers late; the run is killed
    run = start_lorecast("reply", "twitter")
    wait_for(lambda: replies(bot))
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    [row] = reply_rows(env)
    assert row.state == "pending"
    code, _, err = lorecast("reply", "twitter")
    assert code == 0, err
    [reply] = replies(bot)
    assert reply.in_reply_to == mention_id
    [row] = reply_rows(env)
    assert (row.state, row.remote_id) == ("posted", reply.id)
    assert mentions(env)[0].state == "answered"


def test_a_rate_limited_mentions_read_exits_75_and_the_next_run_reads_them(env, bot):
    bot.add_mention("ann", "Tell me about kernels?")
    bot.inject("twitter", "/mentions$", RateLimit(reset_in_s=3600))
    code, _, err = lorecast("reply", "twitter")
    assert code == 75 and "rate limit" in err, err
    assert mentions(env) == []
    assert lorecast("reply", "twitter")[0] == 0
    assert len(replies(bot)) == 1


def test_a_held_lock_exits_73_and_does_nothing(env, bot):
    bot.add_mention("ann", "Tell me about kernels?")
    with Ledger(env["LORECAST_LEDGER"]) as ledger, ledger.lock("twitter", bot.twitter_user.username, holder="other:1:x",
                                                              stale_after_s=600):
        code, _, err = lorecast("reply", "twitter")
    assert code == 73 and "busy" in err, err
    assert replies(bot) == [] and mentions(env) == []


def test_two_bots_answering_each_other_stop_at_the_thread_cap(env, bot, tmp_path):
    other = "other_bot"
    bot.add_twitter_user(other)
    credentials = bot.twitter_credentials_for(other)
    other_env = {"LORECAST_LEDGER": str(tmp_path / "other" / "posts.db"),
                 "LORECAST_TWITTER_CONSUMER_KEY": credentials.consumer_key,
                 "LORECAST_TWITTER_CONSUMER_SECRET": credentials.consumer_secret,
                 "LORECAST_TWITTER_ACCESS_TOKEN": credentials.access_token,
                 "LORECAST_TWITTER_ACCESS_SECRET": credentials.access_secret}
    me = bot.twitter_user.username
    bot.add_mention(other, f"@{me} shall we talk about kernels?")
    caps = ("--thread-cap", "3", "--author-cap", "10")
    summaries = []
    for _ in range(5):  # each bot answers the other's newest reply, until the thread cap stops both
        for environment in (None, other_env):
            code, _, err = lorecast("reply", "twitter", *caps, env=environment)
            assert code == 0, err
            summaries.append(err.strip().splitlines()[-1])
    assert len(replies(bot, me)) == 3 and len(replies(bot, other)) == 3
    assert any("thread cap 1" in line for line in summaries), summaries
    conversation = {post.conversation_id for post in bot.posts("twitter")}
    assert len(conversation) == 1  # all in the one thread


def test_tumblr_is_refused_clearly(env):
    code, _, err = lorecast("reply", "tumblr")
    assert code == 1 and "asks" in err and "Tumblr" in err, err


def test_stdout_answers_a_made_up_mention_once(env, tmp_path):
    args = ("reply", "stdout", "--stdout-mention", "@stdout what do you know about kernels?")
    code, out, err = lorecast(*args)
    assert code == 0, err
    assert out.startswith("@someone ") and "mentions: 1 new, 1 answered" in err
    code, out, err = lorecast(*args)
    assert code == 0 and out == "" and "mentions: 0 new, 0 answered" in err, err


def test_dry_run_shows_the_answer_and_writes_nothing(env, bot):
    bot.add_mention("ann", "Tell me about kernels?")
    me = bot.twitter_user.username
    bot.add_mention(me, "Self talk about lanterns.", of=me)
    code, out, err = lorecast("reply", "twitter", "--dry-run")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("answer @ann") and "'@ann " in lines[0]
    assert lines[1].startswith(f"skip @{me}") and lines[1].endswith("own post")
    assert replies(bot, me) == [] and mentions(env) == []


def test_an_abusive_mention_is_skipped_and_recorded_with_its_reason(env, bot, standin):
    standin.refused_words = {"idiot"}
    bot.add_mention("ann", "You idiot, what about kernels?")
    bot.add_mention("bob", "What about kernels?")
    code, _, err = lorecast("reply", "twitter")
    assert code == 0, err
    [reply] = replies(bot)
    assert reply.text.startswith("@bob ")
    abusive, kind = mentions(env)
    assert (abusive.state, abusive.reason, kind.state) == ("skipped", "blocklist screen", "answered")
    assert "blocklist screen 1" in err
    code, out, _ = lorecast("ledger", "mentions")
    assert code == 0 and "blocklist screen" in out and "skipped" in out


def test_an_author_the_platform_says_is_muted_is_skipped(env, bluesky_server, monkeypatch):
    # An AppView that lists muted authors' posts (Bluesky's own leaves them out) flags them: the run skips them.
    monkeypatch.setenv("LORECAST_BLUESKY_SERVICE", bluesky_server.url)
    monkeypatch.setenv("LORECAST_BLUESKY_HANDLE", bluesky_server.handle)
    monkeypatch.setenv("LORECAST_BLUESKY_APP_PASSWORD", bluesky_server.app_password)
    bluesky_server.hides_muted = False
    for handle in ("ann.test", "troll.test"):
        bluesky_server.add_account(handle)
        bluesky_server.mention(handle, f"@{bluesky_server.handle} what about kernels?")
    bluesky_server.mute("troll.test")
    code, _, err = lorecast("reply", "bluesky")
    assert code == 0, err
    states = {row.mention.author: (row.state, row.reason) for row in mentions(env)}
    assert states == {"ann.test": ("answered", None), "troll.test": ("skipped", "muted or blocked")}
    assert [record.reply["parent"]["uri"] for record in bluesky_server.posts() if record.reply] == [
        row.mention.id for row in mentions(env) if row.mention.author == "ann.test"]
