"""Write a corpus dir (the format is in `dataset.corpus`) so that it appears whole or not at all.

The files are written into a staging dir next to the target (same filesystem, so renames are
atomic), then the staging dir is renamed into place. A crash leaves at most a hidden
`.NAME.tmp-*` dir behind, never a half-written corpus. Replacing an existing corpus (`force`)
first renames the old one aside, then swaps the new one in, then deletes the old one.

A non-empty target is only replaced with `force`, and never when it holds no meta.json: a typo
in `-o` must not wipe a directory that is not a corpus.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from pathlib import Path

from dataset.corpus import META_FILE, TEST_FILE, TRAIN_FILE, WORDS_FILE
from dataset.errors import LorecastError


def check_output_dir(out_dir: Path, force: bool) -> None:
    """Raise LorecastError unless a corpus may be written to `out_dir`."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise LorecastError(f"{out_dir}: exists and is not a directory")
    if not any(out_dir.iterdir()):
        return
    if not force:
        raise LorecastError(f"{out_dir}: directory is not empty; pass --force to replace it")
    if not (out_dir / META_FILE).is_file():
        raise LorecastError(
            f"{out_dir}: not empty and not a corpus dir (no {META_FILE}); "
            "refusing to replace it even with --force"
        )


def _lines(lines: list[str]) -> str:
    return "".join(f"{line}\n" for line in lines)


def write_corpus(
    out_dir: Path,
    train: list[str],
    test: list[str],
    words: list[tuple[str, int]],
    meta: dict,
    force: bool = False,
) -> None:
    """Write train.txt, test.txt, words.txt and meta.json (sorted keys) to `out_dir` atomically."""
    check_output_dir(out_dir, force)
    files = {
        TRAIN_FILE: _lines(train),
        TEST_FILE: _lines(test),
        WORDS_FILE: _lines([f"{word}\t{count}" for word, count in words]),
        META_FILE: json.dumps(meta, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
    }
    try:
        _write_atomically(out_dir, files)
    except OSError as error:
        raise LorecastError(f"{out_dir}: cannot write the corpus ({error.strerror or error})") from None


def _write_atomically(out_dir: Path, files: dict[str, str]) -> None:
    target = out_dir.resolve()  # "." or "corpus/.." must name a real parent to stage in
    target.parent.mkdir(parents=True, exist_ok=True)
    token = f"{os.getpid()}-{secrets.token_hex(4)}"
    staging = target.parent / f".{target.name}.tmp-{token}"
    # mkdir (not mkdtemp) so the corpus dir gets the usual umask permissions, not 0700.
    staging.mkdir()
    try:
        for name, text in files.items():
            # newline="\n": the same bytes on every OS.
            (staging / name).write_text(text, encoding="utf-8", newline="\n")
        _swap_in(staging, target, target.parent / f".{target.name}.old-{token}")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _swap_in(staging: Path, out_dir: Path, old: Path) -> None:
    if not out_dir.exists():
        os.replace(staging, out_dir)
        return
    # Renaming onto an existing dir is not portable (Windows refuses, POSIX needs it empty).
    os.replace(out_dir, old)
    try:
        os.replace(staging, out_dir)
    except BaseException:
        os.replace(old, out_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)
