"""`.env` files: the same LORECAST_… names as the environment and the flags, for local runs.

    @click.command(cls=DotEnvCommand)   # a poster command: ./.env is loaded before its options are read
    load_env_file(Path(".env"))

Lines are `NAME=value` (an `export ` prefix is allowed), `#` starts a comment line, blank lines are skipped, and a
value may be wrapped in single or double quotes. Only LORECAST_… names are taken, and a variable already set in
the environment wins (so a Kubernetes Secret or a shell export overrides the file). A line that is none of these
is an error naming the file and line; the values are never echoed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import click

from lorecast.errors import SourceError

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


class _ReadsDotEnv:
    """Loads ./.env when click makes the command's context, i.e. before any of its options (or, for a group,
    any of its subcommands' options) is read from the environment."""

    def make_context(self, info_name, args, parent=None, **extra):
        load_env_file(Path(".env"))
        return super().make_context(info_name, args, parent=parent, **extra)


class DotEnvCommand(_ReadsDotEnv, click.Command):
    """A command whose LORECAST_… options may come from ./.env."""


class DotEnvGroup(_ReadsDotEnv, click.Group):
    """A group whose subcommands' LORECAST_… options may come from ./.env."""
