"""Blocklist files named on the command line (`--blocklist`), read into terms with errors that name file and line.

The format and the matcher are textrules.blocklist's, shared with the worker: the corpus build drops what the
handler would reject, and `lorecast archive` packs the same terms into the .mar.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from dataset.sources.textio import iter_lines
from lorecast.errors import SourceError
from textrules.blocklist import BlocklistLineError, parse_terms


def read_blocklists(paths: Iterable[str | Path], option: str = "--blocklist") -> list[str]:
    """The terms of every file, in order and without repeats across files."""
    terms: dict[str, None] = {}
    for path in map(Path, paths):
        try:
            terms.update(dict.fromkeys(parse_terms(iter_lines(path))))
        except BlocklistLineError as error:
            raise SourceError(path, f"{error.reason} ({option})", error.line) from None
        except SourceError as error:  # say which option named the file
            raise SourceError(error.path, f"{error.reason} ({option})", error.line) from None
    return list(terms)
