"""Fixtures of the poster tests: a TorchServe stand-in and a test X/Tumblr platform, each on a free loopback port
and stopped after each test."""

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
