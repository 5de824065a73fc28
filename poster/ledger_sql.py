"""What the ledger's modules share about its SQL: WHERE clauses of optional filters, IN lists in chunks, and its
timestamps (UTC ISO 8601 text with microseconds, one fixed width, so text order is time order)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import Any

IDS_PER_QUERY = 500  # SQLite caps the parameters of one statement (999 in older builds)


def filters(prefix: str = "", **columns: str | None) -> tuple[str, list[Any]]:
    """A WHERE clause (or "") over the columns given a value, each name after `prefix`, with its parameters."""
    given = {name: value for name, value in columns.items() if value is not None}
    if not given:
        return "", []
    return "WHERE " + " AND ".join(f"{prefix}{name} = ?" for name in given), list(given.values())


def in_chunks(values: Iterable[Any]) -> Iterator[tuple[str, list[Any]]]:
    """("?, ?, ...", values) for each chunk of at most IDS_PER_QUERY values: one `IN (...)` query each."""
    values = list(values)
    for start in range(0, len(values), IDS_PER_QUERY):
        chunk = values[start:start + IDS_PER_QUERY]
        yield ", ".join("?" * len(chunk)), chunk


def iso(when: datetime) -> str:
    """UTC ISO 8601 with microseconds: one fixed width, so text order is time order."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"the ledger stores aware datetimes only, got naive {when.isoformat()}")
    return when.astimezone(timezone.utc).isoformat(timespec="microseconds")


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)
