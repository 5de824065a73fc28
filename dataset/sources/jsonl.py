"""JSON Lines sources (format `jsonl`, suffixes `.jsonl`, `.ndjson`).

Each non-blank line is one JSON object. `options.field` (default "text") names the key holding
the text and `options.title_field`, when set, the key holding a title. Strings are taken as they
are, numbers are written out (`42`, `0.5`), a null text skips the line and a null title means no
title. A line that is not a JSON object, lacks a chosen key, or holds a list, object or boolean
there is a `SourceError` naming the line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from dataset.sources.base import Record, SourceReader
from dataset.sources.textio import iter_lines, origin
from lorecast.errors import SourceError


def parse_json_object(line: str, path: Path, number: int) -> dict:
    """Decode one NDJSON line that must be an object."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as error:
        raise SourceError(path, f"malformed JSON at column {error.colno}: {error.msg}", number) from None
    if not isinstance(row, dict):
        raise SourceError(path, f"expected a JSON object, found {type(row).__name__}", number)
    return row


def field_text(row: dict, key: str, path: Path, line: int) -> str | None:
    """The value under `key` as text; None for null. Raise SourceError when it is missing or not text-like."""
    if key not in row:
        present = ", ".join(repr(k) for k in row) or "none"
        raise SourceError(path, f"no field {key!r} on this line (fields here: {present})", line)
    value = row[key]
    if value is None or isinstance(value, str):
        return value
    # bool is an int subclass, but True is not a text anyone meant to train on.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise SourceError(path, f"field {key!r} holds {type(value).__name__} {value!r:.40}, not text", line)


class JsonlReader(SourceReader):
    format = "jsonl"
    suffixes = (".jsonl", ".ndjson")

    def read(self, path: Path) -> Iterator[Record]:
        for number, line in iter_lines(path):
            if not line.strip():
                continue
            row = parse_json_object(line, path, number)
            text = field_text(row, self.options.field, path, number)
            if text is None:
                continue
            title = ""
            if self.options.title_field:
                title = field_text(row, self.options.title_field, path, number) or ""
            yield Record(text=text, origin=origin(path, number), title=title)

