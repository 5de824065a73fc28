"""The CLI root and `lorecast train --help` must not import torch or transformers."""

from __future__ import annotations

import subprocess
import sys

from cli_harness import lorecast

HEAVY = ("torch", "transformers")


def test_importing_the_cli_leaves_torch_out():
    code = (f"import sys\nimport lorecast.cli\nheavy = [n for n in {HEAVY!r} if n in sys.modules]\n"
            "assert not heavy, heavy")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_train_help_leaves_torch_out():
    for command, option in ((["train", "generator", "--help"], "--max-minutes"),
                            (["train", "sample", "--help"], "--rng-seed")):
        result = lorecast(*command, watch=HEAVY)
        assert result.exit_code == 0, result.stderr
        assert result.imported == [], command
        assert option in result.stdout
