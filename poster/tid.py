"""Record keys of the AT Protocol's TID format, used by lorecast as every ledger row's idempotency key.

    tid(created_at, clock_id=row_id % 1024)   -> "3lb2vbyqxs42a": 13 characters, sortable by time

A TID is a 64-bit integer, top bit 0, then the microseconds since the Unix epoch (53 bits) and a 10-bit clock id,
written in base32 with the alphabet 234567abcdefghijklmnopqrstuvwxyz. Derived from what the ledger stores for a
row (when it was written, and its id), the key is the same on every retry of that row and in every later run:
Bluesky takes it as the post's record key, Mastodon as its Idempotency-Key.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
# The syntax the AT Protocol specifies: the first character carries the top bit, which must be 0.
TID_PATTERN = re.compile(r"[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def tid(when: datetime, clock_id: int) -> str:
    """The TID of an aware datetime (microsecond precision) and a clock id (taken modulo 1024)."""
    if when.tzinfo is None:
        raise ValueError("a TID needs an aware datetime")
    delta = when - _EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    if not 0 <= micros < 2**53:
        raise ValueError(f"{when.isoformat()} is outside the TID range")
    value = (micros << 10) | (clock_id % 1024)
    return "".join(ALPHABET[(value >> shift) & 31] for shift in range(60, -5, -5))


def is_tid(text: str) -> bool:
    return TID_PATTERN.fullmatch(text) is not None
