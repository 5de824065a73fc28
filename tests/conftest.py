"""Fixtures shared by every test package."""

from __future__ import annotations

import sys

import pytest

from dataset.cli import main


@pytest.fixture
def run_main(monkeypatch, capsys):
    """Run the real console entry point, `lorecast ARGS...`, in-process: (exit code, stdout, stderr).

    Unlike click's CliRunner this goes through `main()`, which turns a LorecastError into one
    `error: ...` line on stderr.
    """

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["lorecast", *args])
        with pytest.raises(SystemExit) as done:
            main()
        captured = capsys.readouterr()
        return done.value.code, captured.out, captured.err

    return run
