"""One real `lorecast post` process per platform against its stand-in: it posts, imports none of the heavy
modules (the poster image has no torch), and its peak resident memory is reported in the session summary
(conftest.py) — a number to compare with the 80 MB budget, not an assertion."""

from __future__ import annotations

import os

import pytest
from cli_harness import lorecast

HEAVY = ("torch", "transformers", "numpy", "pydantic", "atproto", "mastodon")
FOOTPRINT: dict[str, float] = {}  # platform -> peak RSS in MiB


@pytest.mark.parametrize("platform", ["twitter", "tumblr", "mastodon", "bluesky", "stdout"])
def test_a_poster_run_stays_slim(platform, env, platform_server, mastodon_server, bluesky_server, tmp_path):
    env = {**os.environ,
           "LORECAST_MASTODON_INSTANCE": mastodon_server.url,
           "LORECAST_MASTODON_ACCESS_TOKEN": mastodon_server.access_token,
           "LORECAST_BLUESKY_SERVICE": bluesky_server.url,
           "LORECAST_BLUESKY_HANDLE": bluesky_server.handle,
           "LORECAST_BLUESKY_APP_PASSWORD": bluesky_server.app_password}
    done = lorecast("post", platform, env=env, cwd=tmp_path, watch=HEAVY)
    assert done.exit_code == 0, done.stderr
    assert done.imported == [], done.imported
    published = {"twitter": lambda: platform_server.posts("twitter"), "tumblr": lambda: platform_server.posts("tumblr"),
                 "mastodon": mastodon_server.posts, "bluesky": bluesky_server.posts, "stdout": lambda: [None]}
    assert len(published[platform]()) == 1
    FOOTPRINT[platform] = done.peak_rss_kib / 1024
