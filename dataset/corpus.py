"""Contract 1, the corpus dir, written by `lorecast dataset build` and read by everything after it.

    train.txt   one training example per line (UTF-8, "\n" line ends, no empty lines)
    test.txt    held-out examples, same format
    words.txt   seed words, "word<TAB>count<TAB>form" per line, most frequent first (`dataset.seed_words`):
                word is the lower-case key, form the casing a prompt starts with; a file written before forms
                were kept has two columns, and then the form is the word itself
    meta.json   sources, rules applied with their counts, example counts, seed, content_hash

The same sources, rules and seed give byte-identical files.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from lorecast.errors import LorecastError

TRAIN_FILE = "train.txt"
TEST_FILE = "test.txt"
WORDS_FILE = "words.txt"
META_FILE = "meta.json"
CORPUS_FILES = (TRAIN_FILE, TEST_FILE, WORDS_FILE, META_FILE)


class SeedWord(NamedTuple):
    """One line of words.txt."""

    word: str  # the lower-case key: what counts and lookups go by
    count: int
    form: str | None = None  # the casing prompts start with; None in a two-column file (then: the word)


# A (word, count) pair, as callers that need no forms (and files from before forms) have it, is a row too.
WordsRow = SeedWord | tuple[str, int]


def words_line(row: WordsRow) -> str:
    """The words.txt line of `row`, without its line end: two columns when it has no form, else three."""
    word, count, *rest = row
    form = rest[0] if rest else None
    return f"{word}\t{count}" if form is None else f"{word}\t{count}\t{form}"


def content_hash(train: list[str], test: list[str], words: Sequence[WordsRow]) -> str:
    """sha256 over the three text files' contents, words.txt line by line as written (forms included, so a
    two-column file keeps the hash it had): what a model dir records as its corpus."""
    digest = hashlib.sha256()
    for name, lines in ((TRAIN_FILE, train), (TEST_FILE, test)):
        digest.update(name.encode() + b"\0" + "\n".join(lines).encode("utf-8") + b"\0")
    digest.update(WORDS_FILE.encode() + b"\0")
    digest.update("\n".join(words_line(row) for row in words).encode("utf-8"))
    return "sha256:" + digest.hexdigest()


@dataclass(frozen=True)
class Corpus:
    """A corpus dir loaded into memory."""

    path: Path
    train: list[str]
    test: list[str]
    seed_words: list[SeedWord]
    meta: dict

    @property
    def words(self) -> list[tuple[str, int]]:
        """The (word, count) pairs of words.txt, for callers that need no forms."""
        return [(row.word, row.count) for row in self.seed_words]

    @property
    def content_hash(self) -> str:
        return self.meta.get("content_hash") or content_hash(self.train, self.test, self.seed_words)

    @property
    def conversation_tags(self) -> bool:
        """Whether its texts carry conversation tags (the Reddit source's --conversation-tags)."""
        return bool(self.meta.get("options", {}).get("conversation_tags", False))


def _read_lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").split("\n") if line]


def _read_words(path: Path) -> list[SeedWord]:
    words = []
    for number, line in enumerate(_read_lines(path), start=1):
        fields = line.split("\t")
        word, count, form = fields[0], fields[1] if len(fields) > 1 else "", fields[2] if len(fields) > 2 else None
        if not word or not count.isdigit() or len(fields) > 3 or form == "":
            raise LorecastError(f"{path}:{number}: expected 'word<TAB>count[<TAB>form]', got {line[:60]!r}")
        if form is not None and form.lower() != word:
            raise LorecastError(f"{path}:{number}: the form {form!r} is not a casing of {word!r}")
        words.append(SeedWord(word, int(count), form))
    return words


def load_corpus(directory: str | Path) -> Corpus:
    """Read a corpus dir, failing with one clear line when it is not one."""
    directory = Path(directory)
    if not directory.is_dir():
        raise LorecastError(f"{directory}: not a corpus dir (no such directory)")
    missing = [name for name in CORPUS_FILES if not (directory / name).is_file()]
    if missing:
        raise LorecastError(
            f"{directory}: not a corpus dir, missing {', '.join(missing)} "
            "(make one with `lorecast dataset build`)"
        )
    try:
        meta = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise LorecastError(f"{directory / META_FILE}:{error.lineno}: invalid JSON ({error.msg})")
    return Corpus(
        path=directory,
        train=_read_lines(directory / TRAIN_FILE),
        test=_read_lines(directory / TEST_FILE),
        seed_words=_read_words(directory / WORDS_FILE),
        meta=meta,
    )
