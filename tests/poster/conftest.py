"""Fixtures of the poster tests: a TorchServe stand-in and the test platforms (X and Tumblr, Mastodon, Bluesky),
each on a free loopback port and stopped after each test, and `env`, the environment a CronJob gives a poster."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from inference_standin import StandIn
from platform_server import PlatformServer


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn() as server:
        yield server


@pytest.fixture
def platform_server() -> Iterator[PlatformServer]:
    with PlatformServer() as server:
        yield server


@pytest.fixture
def mastodon_server():
    """A Mastodon instance stand-in (tests/poster/mastodon_server.py)."""
    from mastodon_server import MastodonServer

    with MastodonServer() as server:
        yield server


@pytest.fixture
def bluesky_server():
    """A Bluesky PDS + AppView stand-in for what the real PDS cannot do here (tests/poster/bluesky_server.py)."""
    from bluesky_server import BlueskyServer

    with BlueskyServer() as server:
        yield server


@pytest.fixture
def env(platform_server, standin, tmp_path, monkeypatch):
    """The environment a CronJob gives a poster: every option as a LORECAST_… variable."""
    credentials = platform_server.twitter_credentials
    tumblr = platform_server.tumblr_credentials
    values = {
        "LORECAST_LEDGER": str(tmp_path / "ledger" / "posts.db"),
        "LORECAST_ENDPOINT": standin.endpoint,
        "LORECAST_INFERENCE_KEY": standin.key,
        "LORECAST_TWITTER_API_URL": platform_server.twitter_api_url,
        "LORECAST_TWITTER_CONSUMER_KEY": credentials.consumer_key,
        "LORECAST_TWITTER_CONSUMER_SECRET": credentials.consumer_secret,
        "LORECAST_TWITTER_ACCESS_TOKEN": credentials.access_token,
        "LORECAST_TWITTER_ACCESS_SECRET": credentials.access_secret,
        "LORECAST_TUMBLR_API_URL": platform_server.tumblr_api_url,
        "LORECAST_TUMBLR_CONSUMER_KEY": tumblr.consumer_key,
        "LORECAST_TUMBLR_CONSUMER_SECRET": tumblr.consumer_secret,
        "LORECAST_TUMBLR_ACCESS_TOKEN": tumblr.access_token,
        "LORECAST_TUMBLR_ACCESS_SECRET": tumblr.access_secret,
        "LORECAST_TUMBLR_BLOG": platform_server.tumblr_blog,
        "LORECAST_TUMBLR_TAGS": "bot,lore",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # no stray .env
    return values


def pytest_terminal_summary(terminalreporter) -> None:
    """The fault matrix's table (test_fault_matrix.py), the reply path's timing and memory (test_reply_served.py)
    and the poster runs' peak memory (test_poster_footprint.py), when those tests ran."""
    import sys

    matrix = sys.modules.get("test_fault_matrix")
    if matrix is not None and matrix.RESULTS:
        columns = ("platform", "fault", "exit", "expected", "then", "double posts", "lost rows", "unknown rows")
        table = [columns] + [tuple(str(row.get(column, "-")) for column in columns) for row in matrix.RESULTS]
        widths = [max(len(line[index]) for line in table) for index in range(len(columns))]
        terminalreporter.section("fault matrix: platform x fault -> exit codes, double posts, lost rows")
        for line in table:
            terminalreporter.write_line("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip())
    served = sys.modules.get("test_reply_served")
    if served is not None and served.REPLY_PATH:
        terminalreporter.section("reply path with a real TorchServe: mentions read -> reply sent, peak RSS")
        for platform, (seconds, mib) in served.REPLY_PATH.items():
            terminalreporter.write_line(f"{platform:9} {seconds:6.2f} s  {mib:5.1f} MiB")
    footprint = sys.modules.get("test_poster_footprint")
    if footprint is not None and footprint.FOOTPRINT:
        terminalreporter.section("poster run peak RSS (MiB), one `lorecast post` process per platform")
        terminalreporter.write_line("  ".join(f"{name} {mib:.1f}" for name, mib in footprint.FOOTPRINT.items()))
