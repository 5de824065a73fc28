"""Which reader reads a SOURCE argument, and reading it.

A SOURCE is `PATH` or `FORMAT:PATH`, e.g. `items.csv`, `csv:items.txt`, `reddit:RC_2019-01.ndjson`.
Without a prefix the format follows the suffix (a trailing `.gz` is looked through and the file is
gunzipped on the fly):

    .xml -> fmg    .txt -> text    .jsonl/.ndjson -> jsonl    .csv/.tsv -> csv

Reddit dumps are NDJSON too, so they need the explicit `reddit:` prefix. A one-letter prefix is a
Windows drive (`C:\\corpus\\a.txt`), never a format.
"""

from __future__ import annotations

import re
from pathlib import Path

from dataset.sources.base import ReaderOptions, Record, SourceReader
from dataset.sources.csvfile import CsvReader
from dataset.sources.fmg import FmgReader
from dataset.sources.jsonl import JsonlReader
from dataset.sources.plaintext import PlainTextReader
from dataset.sources.reddit import RedditReader
from dataset.sources.textio import format_suffix
from lorecast.errors import SourceError

READERS: dict[str, type[SourceReader]] = {
    reader.format: reader for reader in (FmgReader, PlainTextReader, JsonlReader, CsvReader, RedditReader)
}

# A word before the first colon that could be meant as a format name (two letters at least, so
# that a drive letter never matches).
_FORMAT_PREFIX = re.compile(r"([A-Za-z][\w-]+):(.*)", re.DOTALL)


def _known_formats() -> str:
    by_suffix = ", ".join(
        f"{name} ({'/'.join(reader.suffixes)})" if reader.suffixes else f"{name} (prefix only)"
        for name, reader in READERS.items()
    )
    return f"known formats: {by_suffix}; write FORMAT:PATH to choose one"


def parse_source_spec(spec: str) -> tuple[str, Path]:
    """Split a SOURCE argument into (format name, path); raise SourceError for an unknown format."""
    prefixed = _FORMAT_PREFIX.fullmatch(spec)
    if prefixed:
        name, rest = prefixed.group(1).lower(), prefixed.group(2)
        if name in READERS:
            if not rest:
                raise SourceError(spec, f"no path after '{name}:'")
            return name, Path(rest)
        # A file may really be called "notes:2020.txt"; only a path that does not exist is read as
        # a misspelt format.
        if not Path(spec).exists():
            raise SourceError(spec, f"unknown format '{name}'; {_known_formats()}")
    path = Path(spec)
    suffix = format_suffix(path)
    for name, reader in READERS.items():
        if suffix in reader.suffixes:
            return name, path
    reason = f"cannot tell the format from the suffix '{suffix}'" if suffix else "no suffix to tell the format from"
    raise SourceError(path, f"{reason}; {_known_formats()}")


def read_source(spec: str, options: ReaderOptions | None = None) -> list[Record]:
    """Read every record of one SOURCE argument, in file order."""
    name, path = parse_source_spec(spec)
    if not path.exists():
        raise SourceError(path, "no such file")
    if not path.is_file():
        raise SourceError(path, "not a regular file")
    return list(READERS[name](options).read(path))
