"""The `lorecast` console script as a user runs it: help for every command, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

LORECAST = Path(sys.executable).with_name("lorecast")

COMMANDS = [
    [],
    ["dataset"],
    ["dataset", "build"],
    ["dataset", "inspect"],
    ["train"],
    ["train", "generator"],
    ["train", "sample"],
]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(LORECAST), *args], capture_output=True, text=True, cwd=cwd, timeout=120)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "lorecast")
def test_every_command_explains_itself(command):
    result = run(*command, "--help")
    assert result.returncode == 0, result.stderr
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
    result = run(*args, cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and names in lines[-1], result.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "model").exists()


def test_help_does_not_import_torch():
    code = "import sys\nfrom lorecast.cli import cli\nprint('torch' in sys.modules, 'matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]
