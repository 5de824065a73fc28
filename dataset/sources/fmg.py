"""FMG XML sources (format `fmg`, suffix `.xml`): FromSoftware game text as exported by Yabber.

    <?xml version="1.0" encoding="utf-8"?>
    <fmg>
      <filename>WeaponInfo.fmg</filename> <compression>None</compression>
      <version>DarkSouls3</version> <bigendian>False</bigendian>
      <entries>
        <text id="1000000">A dagger.
    Quick to strike.</text>
        <text id="1000001">%null%</text>
      </entries>
    </fmg>

The root must be `<fmg>`; every `<text id="N">` element below it is one entry, wherever it sits,
because exporters order or omit the header elements differently. Entry text is yielded as the
file has it: XML entities decoded, embedded newlines kept, empty texts and the `%null%`
placeholder included (the cleaning rules drop those). The origin is the line of the `<text>` tag.

Pairing: with `options.fmg_names` set, that names file (e.g. WeaponName.xml) is read as well and
each description gets as `title` the name with the same id. A description whose id has no name
is yielded without title; names without a description are dropped. Two entries with the same id
in one file, a `<text>` without an integer id, and malformed XML are `SourceError`s with the line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from xml.parsers import expat

from dataset.sources.base import Record, SourceReader
from dataset.sources.textio import open_binary, origin
from lorecast.errors import SourceError


@dataclass(frozen=True)
class FmgEntry:
    id: int
    text: str
    line: int


def _local_name(tag: str) -> str:
    """A tag without any namespace prefix, so that `<ns:text>` still counts as `<text>`."""
    return tag.rsplit(":", 1)[-1]


class _FmgParser:
    """Collects the `<text id>` entries of one file with expat, which reports line numbers."""

    def __init__(self, path: Path):
        self.path = path
        self.entries: list[FmgEntry] = []
        self._first_line: dict[int, int] = {}
        self._root: str | None = None
        self._open: tuple[int, int] | None = None  # (id, line) of the <text> being read
        self._chunks: list[str] = []
        self._parser = expat.ParserCreate()
        self._parser.StartElementHandler = self._start
        self._parser.EndElementHandler = self._end
        self._parser.CharacterDataHandler = self._chars

    def parse(self) -> list[FmgEntry]:
        with open_binary(self.path) as stream:
            try:
                self._parser.ParseFile(stream)
            except expat.ExpatError as error:
                reason = f"malformed XML at column {error.offset + 1}: {expat.errors.messages[error.code]}"
                raise SourceError(self.path, reason, error.lineno) from None
        return self.entries

    def _start(self, tag: str, attributes: dict[str, str]) -> None:
        line = self._parser.CurrentLineNumber
        name = _local_name(tag)
        if self._root is None:
            self._root = name
            if name != "fmg":
                reason = f"root element is <{tag}>, not <fmg>: not an FMG XML export"
                raise SourceError(self.path, reason, line)
        if name != "text":
            return
        raw_id = attributes.get("id")
        if raw_id is None:
            raise SourceError(self.path, "<text> element without an id attribute", line)
        try:
            entry_id = int(raw_id)
        except ValueError:
            raise SourceError(self.path, f"<text> id {raw_id!r} is not an integer", line) from None
        if entry_id in self._first_line:
            raise SourceError(
                self.path, f"duplicate id {entry_id} (first used on line {self._first_line[entry_id]})", line
            )
        self._first_line[entry_id] = line
        self._open, self._chunks = (entry_id, line), []

    def _chars(self, data: str) -> None:
        if self._open is not None:
            self._chunks.append(data)

    def _end(self, tag: str) -> None:
        if _local_name(tag) == "text" and self._open is not None:
            entry_id, line = self._open
            self.entries.append(FmgEntry(entry_id, "".join(self._chunks), line))
            self._open = None


def read_fmg(path: Path) -> list[FmgEntry]:
    """The entries of one FMG XML file, in file order."""
    return _FmgParser(path).parse()


class FmgReader(SourceReader):
    format = "fmg"
    suffixes = (".xml",)

    def read(self, path: Path) -> Iterator[Record]:
        names: dict[int, str] = {}
        if self.options.fmg_names is not None:
            names = {entry.id: entry.text for entry in read_fmg(Path(self.options.fmg_names))}
        for entry in read_fmg(path):
            yield Record(text=entry.text, origin=origin(path, entry.line), title=names.get(entry.id, ""))
