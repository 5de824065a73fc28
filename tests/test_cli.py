"""The `lorecast` command as a user runs it: help for every command, one-line errors, and a light `--help`."""

from __future__ import annotations

import pytest
from cli_harness import lorecast

COMMANDS = [
    [],
    ["dataset"],
    ["dataset", "build"],
    ["dataset", "inspect"],
    ["train"],
    ["train", "generator"],
    ["train", "sample"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "lorecast")
def test_every_command_explains_itself(command):
    result = lorecast(*command, "--help")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"Usage: lorecast {' '.join(command)}".rstrip())
    # Every option listed in the help has a sentence after it, not just a name.
    options = [line for line in result.stdout.splitlines() if line.lstrip().startswith("--")]
    assert all(len(line.split(None, 2)) >= 2 for line in options)


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["dataset", "build", "no-such-file.txt", "-o", "out"], "no-such-file.txt"),
        (["dataset", "build", "weird.format", "-o", "out"], "weird.format"),
        (["dataset", "inspect", "no-such-corpus", "-o", "report"], "no-such-corpus"),
        (["train", "generator", "--corpus", "no-such-corpus", "-o", "model"], "no-such-corpus"),
        (["train", "sample", "--model", "no-such-model"], "no-such-model"),
    ],
    ids=["build-missing-source", "build-unknown-format", "inspect", "generator", "sample"],
)
def test_bad_paths_give_one_line_errors(tmp_path, args, names):
    result = lorecast(*args, cwd=tmp_path)
    assert result.exit_code != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and names in lines[-1], result.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "model").exists()


def test_the_console_script_runs_and_its_help_does_not_import_torch():
    # A process of its own: which modules `lorecast --help` imports can only be seen from a fresh interpreter.
    result = lorecast("--help", process=True, watch=("torch", "matplotlib"))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("Usage: lorecast ")
    assert result.imported == []
    # The installed console script itself, as a user types it.
    assert lorecast("--version", process=True).stdout.startswith("lorecast, version ")
