"""Reading HTTP answers, shared by the inference client and the platform clients: a body as JSON, what an
exchange went wrong with (for one-line errors), and the fields of a JSON answer that a client must not trust
blindly (a string id, a count, a timestamp)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

import requests


def json_body(response: requests.Response) -> Any:
    """The decoded JSON body, or None when it is not JSON."""
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None


def excerpt(response: requests.Response) -> str:
    """The start of the body, quoted, for an error message."""
    text = response.content[:200].decode("utf-8", errors="replace").strip()
    return repr(text) if text else "an empty body"


def os_cause(error: BaseException) -> OSError | None:
    """The innermost OSError of the standard library under requests' and urllib3's wrappers."""
    found = None
    for current in _chain(error):
        if isinstance(current, OSError) and not _wrapper(current):
            found = current
    return found


def network_reason(error: BaseException) -> str:
    """The socket-level reason ("Connection refused", "Remote end closed connection without response") when there
    is one under requests' and urllib3's wrappers, whose own messages are long and repeat the URL."""
    found = None
    for current in _chain(error):
        if not _wrapper(current):
            found = current
    if found is None:
        return " ".join(str(error).split())
    return getattr(found, "strerror", None) or str(found) or type(found).__name__


def _wrapper(error: BaseException) -> bool:
    return type(error).__module__.startswith(("requests", "urllib3"))


def _chain(error: BaseException) -> list[BaseException]:
    """`error` and every exception nested in it (reason, cause, context, args), outermost first."""
    found, stack, seen = [], [error], set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        found.append(current)
        nested = [getattr(current, "reason", None), current.__cause__, current.__context__, *current.args]
        stack.extend(item for item in nested if isinstance(item, BaseException))
    return found


def string_field(obj: Any, key: str) -> str | None:
    """A non-empty string field of a JSON object (the platforms' ids are strings), None when absent or not one."""
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, str) and value else None


def count(value: Any) -> int | None:
    """A JSON count: a non-negative integer (a bool is none), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def shape(document: Any) -> str:
    """What a JSON answer is, for an error line about one that is not what was asked for (keys, never values)."""
    if isinstance(document, dict):
        return "an object with keys " + ", ".join(sorted(document)) if document else "an empty object"
    return f"a JSON {type(document).__name__}"


_TIMESTAMP = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", re.IGNORECASE)


def timestamp(value: Any) -> datetime | None:
    """An RFC 3339 timestamp with its zone ("2026-12-03T12:00:00.000Z": X, Mastodon, atproto) as an aware
    datetime; None when it is not one. Any fraction of a second is read (to the microsecond)."""
    found = _TIMESTAMP.fullmatch(value.strip()) if isinstance(value, str) else None
    if found is None:
        return None
    day_time, fraction, zone = found.groups()
    try:  # fromisoformat of Python 3.10 takes neither "Z" nor fractions other than 3 or 6 digits
        return datetime.fromisoformat(f"{day_time}.{(fraction or '')[:6]:0<6}"
                                      f"{'+00:00' if zone.upper() == 'Z' else zone}")
    except ValueError:  # a day or an hour out of range
        return None
