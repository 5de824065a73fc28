"""Writing a selector dir (contract 3, see serve_handler/selector.py) whole or not at all.

    check_selector_output(out_dir, force)        refuse an output path before any work is done
    write_selector_dir(selector, out_dir, metrics, trained_on, force)

The selector appears whole or not at all, and `--force` replaces only an earlier selector dir (see
`dataset.output_dir`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dataset.output_dir import check_replaceable, write_atomically
from serve_handler.selector import CONFIG_FILE, WEIGHTS_FILE, Selector


def check_selector_output(out_dir: Path, force: bool) -> None:
    check_replaceable(out_dir, force, (CONFIG_FILE, WEIGHTS_FILE), "a selector dir")


def write_selector_dir(
    selector: Selector, out_dir: Path, metrics: dict[str, Any], trained_on: dict[str, Any], force: bool
) -> None:
    check_selector_output(out_dir, force)  # again: the dir may have changed during training
    write_atomically(out_dir, lambda stage: selector.save(stage, metrics, trained_on))
