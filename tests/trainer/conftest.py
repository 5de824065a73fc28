"""Fixtures of the trainer tests (the shared corpus and model fixtures are in tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture
def invoke():
    """Run `lorecast train ARGS...` in-process; a LorecastError lands in `result.exception`."""
    from click.testing import CliRunner

    from trainer.commands import train_group

    return lambda *args: CliRunner().invoke(train_group, [str(arg) for arg in args])
