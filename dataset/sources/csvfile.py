"""CSV and TSV sources (format `csv`, suffixes `.csv`, `.tsv`).

The first row is the header. `options.field` (default "text") names the column holding the text
and `options.title_field`, when set, the column holding a title. A file whose suffix (before any
`.gz`) is `.tsv` is tab-separated, everything else comma-separated. Quoting is the csv module's
(a quoted cell may span lines) in strict mode, so a stray or unclosed quote is an error rather
than a silently merged row. Cells are taken as they are (empty ones too:
the cleaning rules decide what to drop). The origin is the line where the row starts.

Errors name the line: a chosen column missing from the header (listing the columns), a
row too short to have that column, malformed quoting (at the line where that row starts).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterator

from dataset.sources.base import Record, SourceReader
from dataset.sources.textio import format_suffix, iter_lines, origin
from lorecast.errors import SourceError


class CsvReader(SourceReader):
    format = "csv"
    suffixes = (".csv", ".tsv")

    def read(self, path: Path) -> Iterator[Record]:
        delimiter = "\t" if format_suffix(path) == ".tsv" else ","
        # iter_lines keeps line endings, which is what csv.reader needs to see quoted newlines.
        rows = csv.reader((line for _, line in iter_lines(path)), delimiter=delimiter, strict=True)
        columns: list[str] | None = None
        text_at = title_at = None
        last_line = 0
        try:
            for row in rows:
                start, last_line = last_line + 1, rows.line_num
                if not row:  # a blank line
                    continue
                if columns is None:
                    columns = row
                    text_at = self._column(columns, self.options.field, path, start)
                    if self.options.title_field:
                        title_at = self._column(columns, self.options.title_field, path, start)
                    continue
                yield Record(
                    text=self._cell(row, text_at, columns, path, start),
                    origin=origin(path, start),
                    title=self._cell(row, title_at, columns, path, start) if title_at is not None else "",
                )
        except csv.Error as error:
            # The row's first line: an unclosed quote is only noticed at the end of the file.
            reason = f"malformed CSV in the row starting here: {error}"
            raise SourceError(path, reason, last_line + 1) from None

    @staticmethod
    def _column(columns: list[str], name: str, path: Path, line: int) -> int:
        if name not in columns:
            listed = ", ".join(repr(c) for c in columns)
            raise SourceError(path, f"no column {name!r} in the header (columns: {listed})", line)
        return columns.index(name)

    @staticmethod
    def _cell(row: list[str], at: int, columns: list[str], path: Path, line: int) -> str:
        if at >= len(row):
            present = ", ".join(repr(c) for c in columns[: len(row)])
            raise SourceError(
                path, f"row has no {columns[at]!r} cell ({len(row)} of {len(columns)} cells: {present})", line
            )
        return row[at]
