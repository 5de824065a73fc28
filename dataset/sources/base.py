"""The source-reader interface: every reader turns one file into `Record`s."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Iterator


@dataclass(frozen=True)
class Record:
    """One piece of text from a source, before cleaning.

    `title` is the paired name when a source has one (an FMG name for its description, a Jargon
    headword for its definition); it stays empty otherwise. `origin` is "path:line" for messages
    and provenance.
    """

    text: str
    origin: str
    title: str = ""


@dataclass(frozen=True)
class ReaderOptions:
    """Options shared by all readers; each reader uses the ones that concern it."""

    field: str = "text"  # JSONL key / CSV column holding the text
    title_field: str | None = None  # JSONL key / CSV column holding an optional title
    fmg_names: Path | None = None  # FMG names file paired by id with a descriptions file
    min_score: int | None = None  # Reddit: drop items scored below this
    allow_nsfw: bool = False  # Reddit: keep items marked over_18
    conversation_tags: bool = False  # Reddit: wrap replies in <|sor|>…<|eor|> style tags
    paragraphs: bool = False  # plain text: one record per blank-line separated paragraph


class SourceReader(ABC):
    """Reads one file of one format. Raises `lorecast.errors.SourceError` (file, line, reason)."""

    format: ClassVar[str]  # the name used on the command line, e.g. "fmg", "jsonl"
    suffixes: ClassVar[tuple[str, ...]] = ()  # file suffixes that select this reader by default

    def __init__(self, options: ReaderOptions | None = None):
        self.options = options or ReaderOptions()

    @abstractmethod
    def read(self, path: Path) -> Iterator[Record]:
        """Yield the file's records in file order."""
