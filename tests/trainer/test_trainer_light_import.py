"""The CLI root and `lorecast train --help` must not import torch or transformers."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
{body}
heavy = sorted(name for name in ("torch", "transformers") if name in sys.modules)
assert not heavy, heavy
"""


def run_python(body: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", CHECK.format(body=body)], capture_output=True, text=True
    )


def test_importing_the_cli_leaves_torch_out():
    result = run_python("import lorecast.cli")
    assert result.returncode == 0, result.stderr


def test_train_help_leaves_torch_out():
    body = (
        "from click.testing import CliRunner\n"
        "from lorecast.cli import cli\n"
        "for command in (['train', 'generator', '--help'], ['train', 'sample', '--help']):\n"
        "    print(CliRunner().invoke(cli, command).output)\n"
    )
    result = run_python(body)
    assert result.returncode == 0, result.stderr
    assert "--max-minutes" in result.stdout and "--rng-seed" in result.stdout
