"""Output dirs of lorecast's commands: when one may be replaced, and writing one whole or not at all.

    check_replaceable(out_dir, force, previous, kind)  raise LorecastError unless out_dir may be written
    write_atomically(out_dir, fill)                     fill(stage) writes a stage dir beside out_dir, which then
                                                        takes out_dir's place

A non-empty dir is only replaced with --force, and never when it is not an earlier output of the same command
(`previous`: the files one has, any of them, or a test of the dir): a typo in -o must not wipe a directory of
something else. Every package that writes an output dir uses this module (it sits at the root so that poster,
which may not import dataset, shares it).

The stage dir sits next to the target (same file system, so the renames are atomic) under a hidden name; a crash
leaves at most such a `.NAME.tmp-*` dir, never a half-written output. An existing target is renamed aside, the
stage renamed in, and only then the old one deleted (renaming onto an existing dir is not portable).
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from lorecast.errors import LorecastError


def check_replaceable(out_dir: Path, force: bool, previous: Sequence[str] | Callable[[Path], bool], kind: str,
                      hint: str = "") -> None:
    """`kind` names the output in messages ("a corpus dir"); `hint` is added to the "use --force" advice."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise LorecastError(f"{out_dir}: exists and is not a directory")
    if not any(out_dir.iterdir()):
        return
    if not force:
        raise LorecastError(f"{out_dir}: directory is not empty; pass --force to replace it{hint}")
    if callable(previous):
        if not previous(out_dir):
            raise LorecastError(f"{out_dir}: not empty and not {kind}; refusing to replace it even with --force")
    elif not any((out_dir / marker).exists() for marker in previous):
        raise LorecastError(
            f"{out_dir}: not empty and not {kind} (no {', '.join(previous)}); refusing to replace it even with --force"
        )


def write_atomically(out_dir: Path, fill: Callable[[Path], None]) -> None:
    target = out_dir.resolve()  # "." or "corpus/.." must name a real parent to stage in
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise LorecastError(f"{out_dir}: cannot create its directory: {error.strerror or error}") from None
    token = f"{os.getpid()}-{secrets.token_hex(4)}"
    stage = target.parent / f".{target.name}.tmp-{token}"
    stage.mkdir()  # not mkdtemp: the output gets the usual umask permissions, not 0700
    try:
        fill(stage)
        _swap_in(stage, target, target.parent / f".{target.name}.old-{token}")
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def _swap_in(stage: Path, out_dir: Path, old: Path) -> None:
    if not out_dir.exists():
        os.replace(stage, out_dir)
        return
    os.replace(out_dir, old)
    try:
        os.replace(stage, out_dir)
    except BaseException:
        os.replace(old, out_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)
