"""`lorecast reply` end to end with a real TorchServe serving a real `.mar`: on X, Mastodon and Bluesky (their
stand-ins), one mention gets one reply in its thread, seeded from a word of the mention as the response reported;
a second run answers nothing new. Each run is its own process, whose peak RSS and the time from the mentions read
to the reply sent are printed in the session summary (conftest.py): numbers, not assertions."""

from __future__ import annotations

import os
import re

import pytest
from cli_harness import lorecast
from serving_setup import MODEL
from test_poster_footprint import HEAVY

REPLY_PATH: dict[str, tuple[float, float]] = {}  # platform -> (seconds mentions read -> reply sent, peak RSS MiB)
QUESTION = "what do you know about kernels?"


def _mention_and_replies(platform, platform_server, mastodon_server, bluesky_server):
    """Make another account mention the bot; return (the mention's id, a function listing the bot's replies as
    (text, id of the post answered))."""
    if platform == "twitter":
        mention = platform_server.add_mention("ann", QUESTION.capitalize())
        return mention, lambda: [(post.text, post.in_reply_to) for post in platform_server.posts(
            "twitter", platform_server.twitter_user.username) if post.in_reply_to]
    if platform == "mastodon":
        mastodon_server.add_account("ann")
        mention = mastodon_server.mention("ann", f"@{mastodon_server.acct} {QUESTION}")
        return mention, lambda: [(status.text, status.in_reply_to_id) for status in mastodon_server.posts()
                                 if status.in_reply_to_id]
    bluesky_server.add_account("ann.test")
    mention = bluesky_server.mention("ann.test", f"@{bluesky_server.handle} {QUESTION}")
    return mention, lambda: [(record.text, record.reply["parent"]["uri"]) for record in bluesky_server.posts()
                             if record.reply]


@pytest.mark.parametrize("platform", ["twitter", "mastodon", "bluesky"])
def test_a_mention_gets_one_served_reply_in_its_thread(platform, server, env, platform_server, mastodon_server,
                                                       bluesky_server, tmp_path):
    environment = {**os.environ,
                   "LORECAST_ENDPOINT": server.predictions_url(MODEL), "LORECAST_INFERENCE_KEY": None,
                   "LORECAST_KEY_FILE": str(server.key_file),
                   "LORECAST_MASTODON_INSTANCE": mastodon_server.url,
                   "LORECAST_MASTODON_ACCESS_TOKEN": mastodon_server.access_token,
                   "LORECAST_BLUESKY_SERVICE": bluesky_server.url,
                   "LORECAST_BLUESKY_HANDLE": bluesky_server.handle,
                   "LORECAST_BLUESKY_APP_PASSWORD": bluesky_server.app_password}
    mention, replies = _mention_and_replies(platform, platform_server, mastodon_server, bluesky_server)

    done = lorecast("reply", platform, "--request", '{"min_novelty": 0}', env=environment, cwd=tmp_path,
                    watch=HEAVY)
    assert done.exit_code == 0, done.stderr
    assert done.imported == [], done.imported
    [(text, answered)] = replies()
    assert answered == mention
    # The tiny test model knows "kernel": the mention's "kernels" is one edit from it, and the answer starts there
    # (the model may go on with the word: "kernels the hacker.").
    assert "(seeded from 'kernels')" in done.stderr
    assert re.match(r"@\S+ kernel", text), text
    seconds = float(re.search(r", ([0-9.]+) s after the mentions read", done.stderr).group(1))
    REPLY_PATH[platform] = (seconds, done.peak_rss_kib / 1024)

    again = lorecast("reply", platform, env=environment, cwd=tmp_path)
    assert again.exit_code == 0 and "mentions: 0 new, 0 answered" in again.stderr, again.stderr
    assert len(replies()) == 1
