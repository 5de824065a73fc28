"""Contract 1, the corpus dir, written by `lorecast dataset build` and read by everything after it.

    train.txt   one training example per line (UTF-8, "\n" line ends, no empty lines)
    test.txt    held-out examples, same format
    words.txt   seed words, "word<TAB>count" per line, most frequent first
    meta.json   sources, rules applied with their counts, example counts, seed, content_hash

The same sources, rules and seed give byte-identical files.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from lorecast.errors import LorecastError

TRAIN_FILE = "train.txt"
TEST_FILE = "test.txt"
WORDS_FILE = "words.txt"
META_FILE = "meta.json"
CORPUS_FILES = (TRAIN_FILE, TEST_FILE, WORDS_FILE, META_FILE)


def content_hash(train: list[str], test: list[str], words: list[tuple[str, int]]) -> str:
    """sha256 over the three text files' contents: what a model dir records as its corpus."""
    digest = hashlib.sha256()
    for name, lines in ((TRAIN_FILE, train), (TEST_FILE, test)):
        digest.update(name.encode() + b"\0" + "\n".join(lines).encode("utf-8") + b"\0")
    digest.update(WORDS_FILE.encode() + b"\0")
    digest.update("\n".join(f"{w}\t{c}" for w, c in words).encode("utf-8"))
    return "sha256:" + digest.hexdigest()


@dataclass(frozen=True)
class Corpus:
    """A corpus dir loaded into memory."""

    path: Path
    train: list[str]
    test: list[str]
    words: list[tuple[str, int]]
    meta: dict

    @property
    def content_hash(self) -> str:
        return self.meta.get("content_hash") or content_hash(self.train, self.test, self.words)

    @property
    def conversation_tags(self) -> bool:
        """Whether its texts carry conversation tags (the Reddit source's --conversation-tags)."""
        return bool(self.meta.get("options", {}).get("conversation_tags", False))


def _read_lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").split("\n") if line]


def _read_words(path: Path) -> list[tuple[str, int]]:
    words = []
    for number, line in enumerate(_read_lines(path), start=1):
        word, _, count = line.partition("\t")
        if not word or not count.isdigit():
            raise LorecastError(f"{path}:{number}: expected 'word<TAB>count', got {line[:60]!r}")
        words.append((word, int(count)))
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
        words=_read_words(directory / WORDS_FILE),
        meta=meta,
    )
