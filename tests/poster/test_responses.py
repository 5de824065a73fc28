"""The timestamp reader the platform clients share (poster/responses.py)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from poster.responses import timestamp

UTC = timezone.utc


@pytest.mark.parametrize("text, expected", [
    ("2026-12-03T12:00:00.000Z", datetime(2026, 12, 3, 12, tzinfo=UTC)),  # X, Mastodon
    ("2026-12-03T12:00:00Z", datetime(2026, 12, 3, 12, tzinfo=UTC)),
    (" 2026-12-03T12:00:00.5z ", datetime(2026, 12, 3, 12, 0, 0, 500000, tzinfo=UTC)),
    ("2026-12-03T12:00:00.123456789+02:00",  # atproto allows any fraction; microseconds are kept
     datetime(2026, 12, 3, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))),
])
def test_rfc_3339_timestamps_are_read_as_aware_datetimes(text, expected):
    assert timestamp(text) == expected


@pytest.mark.parametrize("value", ["2026-12-03T12:00:00", "2026-12-03", "2026-13-03T12:00:00Z", "soon", "", None, 7])
def test_anything_else_is_none(value):
    assert timestamp(value) is None
