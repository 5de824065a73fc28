"""A ledger file as an older lorecast left it, for the migration tests: built from the ledger's own migrations."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from poster.ledger import APPLICATION_ID, MIGRATIONS


def ledger_at_schema(path: Path, version: int) -> sqlite3.Connection:
    """A new ledger at `path` with the first `version` migrations applied (autocommit); the caller adds its rows
    and closes it."""
    raw = sqlite3.connect(path, isolation_level=None)
    for statements in MIGRATIONS[:version]:
        for statement in statements:
            raw.execute(statement)
    raw.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    raw.execute(f"PRAGMA user_version = {version}")
    return raw
