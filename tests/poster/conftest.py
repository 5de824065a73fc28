"""Fixtures of the poster tests: a TorchServe stand-in on a free loopback port, stopped after each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from inference_standin import StandIn


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn() as server:
        yield server
