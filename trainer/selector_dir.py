"""Writing a selector dir (contract 3, see serve_handler/selector.py) whole or not at all.

    check_selector_output(out_dir, force)        refuse an output path before any work is done
    write_selector_dir(selector, out_dir, metrics, trained_on, force)

The selector is saved into a hidden stage dir beside `out_dir` and renamed into place once complete, so an
interrupted run never leaves a half-written selector under the final name. Like `lorecast train generator`,
`--force` replaces only an earlier selector dir: a non-empty dir of anything else is never deleted.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path
from typing import Any

from dataset.errors import LorecastError
from serve_handler.selector import CONFIG_FILE, WEIGHTS_FILE, Selector


def check_selector_output(out_dir: Path, force: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise LorecastError(f"{out_dir}: output path exists and is not a directory")
    if not out_dir.is_dir() or not any(out_dir.iterdir()):
        return
    if not force:
        raise LorecastError(f"{out_dir}: output dir exists and is not empty (use --force to replace it)")
    if not any((out_dir / name).exists() for name in (CONFIG_FILE, WEIGHTS_FILE)):
        raise LorecastError(
            f"{out_dir}: not empty and not a selector dir (no {CONFIG_FILE} or {WEIGHTS_FILE}); "
            "refusing to replace it even with --force"
        )


def write_selector_dir(
    selector: Selector, out_dir: Path, metrics: dict[str, Any], trained_on: dict[str, Any], force: bool
) -> None:
    check_selector_output(out_dir, force)  # again: the dir may have changed during training
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # Beside out_dir, so the renames stay on one file system; hidden, so a directory listing skips it.
    stage = out_dir.parent / f".{out_dir.name}.stage-{secrets.token_hex(4)}"
    stage.mkdir()
    try:
        selector.save(stage, metrics, trained_on)
        if out_dir.exists():
            previous = out_dir.parent / f".{out_dir.name}.previous-{secrets.token_hex(4)}"
            os.rename(out_dir, previous)
            os.rename(stage, out_dir)
            shutil.rmtree(previous)
        else:
            os.rename(stage, out_dir)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
