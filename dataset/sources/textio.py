"""File access shared by the readers: transparent gzip, UTF-8 lines with their numbers, clear errors.

A path ending in `.gz` is decompressed on the fly. Text is UTF-8 (a leading byte-order mark is
dropped); anything else is a `SourceError` that names the line. Opening problems (missing file, a
directory, no permission, a broken gzip stream) become `SourceError`s too, so no reader has to
repeat that handling.
"""

from __future__ import annotations

import gzip
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

from lorecast.errors import SourceError

BOM = "\ufeff"


def format_suffix(path: Path) -> str:
    """The suffix that names the format, lower-cased, looking through a trailing `.gz`."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    return suffixes[-1] if suffixes else ""


def origin(path: Path, line: int) -> str:
    """The `Record.origin` of something that starts on `line` (1-based)."""
    return f"{path}:{line}"


@contextmanager
def open_binary(path: Path) -> Iterator[BinaryIO]:
    """Open `path` for reading bytes (gunzipped when it ends in `.gz`).

    Read errors inside the block (a truncated or corrupt gzip stream) also become `SourceError`.
    """
    try:
        raw = gzip.open(path, "rb") if path.suffix.lower() == ".gz" else open(path, "rb")
    except FileNotFoundError:
        raise SourceError(path, "no such file") from None
    except IsADirectoryError:
        raise SourceError(path, "is a directory, not a file") from None
    except PermissionError:
        raise SourceError(path, "permission denied") from None
    except OSError as error:
        raise SourceError(path, f"cannot open: {error.strerror or error}") from None
    try:
        with raw:
            yield raw
    except (gzip.BadGzipFile, EOFError) as error:
        raise SourceError(path, f"not a valid gzip file ({error})") from None
    except OSError as error:
        raise SourceError(path, f"cannot read: {error.strerror or error}") from None


def iter_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield `(line_number, line)` with 1-based numbers; each line keeps its line ending.

    Decoding goes line by line so that a bad byte is reported with its line (a newline byte never
    occurs inside a multi-byte UTF-8 sequence, so splitting the bytes first is safe).
    """
    with open_binary(path) as stream:
        for number, raw_line in enumerate(stream, start=1):
            try:
                line = raw_line.decode("utf-8")
            except UnicodeDecodeError as error:
                bad = f"byte 0x{raw_line[error.start]:02x} at byte {error.start + 1} of the line"
                raise SourceError(path, f"not UTF-8 text ({bad})", number) from None
            if number == 1 and line.startswith(BOM):
                line = line[len(BOM) :]
            yield number, line
