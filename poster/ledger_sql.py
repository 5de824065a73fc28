"""What the ledger's modules share about its SQL: WHERE clauses of optional filters, and its timestamps (UTC ISO 8601
text with microseconds, one fixed width, so text order is time order)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any


def filters(prefix: str = "", **columns: str | None) -> tuple[str, list[Any]]:
    """A WHERE clause (or "") over the columns given a value, each name after `prefix`, with its parameters."""
    given = {name: value for name, value in columns.items() if value is not None}
    if not given:
        return "", []
    return "WHERE " + " AND ".join(f"{prefix}{name} = ?" for name in given), list(given.values())


def iso(when: datetime) -> str:
    """UTC ISO 8601 with microseconds: one fixed width, so text order is time order."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"the ledger stores aware datetimes only, got naive {when.isoformat()}")
    return when.astimezone(timezone.utc).isoformat(timespec="microseconds")


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)
