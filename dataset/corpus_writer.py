"""Write a corpus dir (the format is in `dataset.corpus`) so that it appears whole or not at all
(see `dataset.output_dir`). A non-empty target is only replaced with `force`, and never when it holds no
meta.json.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from dataset.corpus import META_FILE, TEST_FILE, TRAIN_FILE, WORDS_FILE, WordsRow, words_line
from lorecast.errors import LorecastError
from lorecast.output_dir import check_replaceable, write_atomically


def check_output_dir(out_dir: Path, force: bool) -> None:
    """Raise LorecastError unless a corpus may be written to `out_dir`."""
    check_replaceable(out_dir, force, (META_FILE,), "a corpus dir")


def _lines(lines: list[str]) -> str:
    return "".join(f"{line}\n" for line in lines)


def write_corpus(
    out_dir: Path,
    train: list[str],
    test: list[str],
    words: Sequence[WordsRow],
    meta: dict,
    force: bool = False,
) -> None:
    """Write train.txt, test.txt, words.txt and meta.json (sorted keys) to `out_dir` atomically."""
    check_output_dir(out_dir, force)
    files = {
        TRAIN_FILE: _lines(train),
        TEST_FILE: _lines(test),
        WORDS_FILE: _lines([words_line(row) for row in words]),
        META_FILE: json.dumps(meta, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
    }

    def fill(stage: Path) -> None:
        for name, text in files.items():
            # newline="\n": the same bytes on every OS.
            (stage / name).write_text(text, encoding="utf-8", newline="\n")

    try:
        write_atomically(out_dir, fill)
    except OSError as error:
        raise LorecastError(f"{out_dir}: cannot write the corpus ({error.strerror or error})") from None
