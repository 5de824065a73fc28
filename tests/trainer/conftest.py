"""Fixtures of the trainer tests (the shared corpus and model fixtures are in tests/conftest.py)."""

from __future__ import annotations

import pytest
from cli_harness import lorecast


@pytest.fixture
def invoke():
    """`invoke(ARGS...)` runs `lorecast train ARGS...` in-process (tests/cli_harness.py); a LorecastError gives
    its one `error: ...` line on stderr, exit status 1, and lands in `result.exception`."""
    return lambda *args: lorecast("train", *args)
