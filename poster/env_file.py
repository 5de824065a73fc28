"""`.env` files: the same LORECAST_… names as the environment and the flags, for local runs.

    load_env_file(Path(".env"))     # called by the CLI root before any option is read

Lines are `NAME=value` (an `export ` prefix is allowed), `#` starts a comment line, blank lines are skipped, and a
value may be wrapped in single or double quotes. Only LORECAST_… names are taken, and a variable already set in
the environment wins (so a Kubernetes Secret or a shell export overrides the file). A line that is none of these
is an error naming the file and line; the values are never echoed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from dataset.errors import SourceError

_LINE = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")
PREFIX = "LORECAST_"


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise SourceError(str(path), "not a NAME=value line", number)
        name, value = match.groups()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name] = value
    return values


def load_env_file(path: Path) -> None:
    """Put the file's LORECAST_… variables into os.environ where they are not set yet; no file, no change."""
    if not path.is_file():
        return
    for name, value in read_env_file(path).items():
        if name.startswith(PREFIX):
            os.environ.setdefault(name, value)
