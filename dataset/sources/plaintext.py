"""Plain-text sources (format `text`, suffix `.txt`).

Default: one record per non-blank line, the line as is minus its line ending (and a leading
byte-order mark). This is the most predictable mapping: a file with one tweet, quote or item
name per line reads exactly as written.

With `options.paragraphs`: one record per paragraph (lines separated by blank
lines); the paragraph's lines are stripped and joined with one space, so hard-wrapped prose
becomes one text. The origin is the paragraph's first line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from dataset.sources.base import Record, SourceReader
from dataset.sources.textio import iter_lines, origin


class PlainTextReader(SourceReader):
    format = "text"
    suffixes = (".txt",)

    def read(self, path: Path) -> Iterator[Record]:
        if self.options.paragraphs:
            yield from self._paragraphs(path)
        else:
            yield from self._lines(path)

    def _lines(self, path: Path) -> Iterator[Record]:
        for number, line in iter_lines(path):
            text = line.rstrip("\r\n")
            if text.strip():
                yield Record(text=text, origin=origin(path, number))

    def _paragraphs(self, path: Path) -> Iterator[Record]:
        start, parts = 0, []
        for number, line in iter_lines(path):
            stripped = line.strip()
            if stripped:
                if not parts:
                    start = number
                parts.append(stripped)
            elif parts:
                yield Record(text=" ".join(parts), origin=origin(path, start))
                parts = []
        if parts:
            yield Record(text=" ".join(parts), origin=origin(path, start))
