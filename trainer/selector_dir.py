"""Writing a selector dir (contract 3, see serve_handler/selector.py) whole or not at all.

    check_selector_output(out_dir, force)        refuse an output path before any work is done
    write_selector_dir(selector, out_dir, metrics, trained_on, force)
    read_selector_dir(directory) -> [config, weights]   a dir that loads as a selector, for archive and sample

The selector appears whole or not at all, and `--force` replaces only an earlier selector dir (see
`dataset.output_dir`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lorecast.errors import LorecastError
from lorecast.output_dir import check_replaceable, write_atomically
from serve_handler.layout import PICKLE_SUFFIXES
from serve_handler.selector import CONFIG_FILE, WEIGHTS_FILE, Selector


def check_selector_output(out_dir: Path, force: bool) -> None:
    check_replaceable(out_dir, force, (CONFIG_FILE, WEIGHTS_FILE), "a selector dir")


def write_selector_dir(
    selector: Selector, out_dir: Path, metrics: dict[str, Any], trained_on: dict[str, Any], force: bool
) -> None:
    check_selector_output(out_dir, force)  # again: the dir may have changed during training
    write_atomically(out_dir, lambda stage: selector.save(stage, metrics, trained_on))


def read_selector_dir(directory: Path) -> list[Path]:
    """The files of a selector dir, once it has loaded as a selector (on the CPU: a small head, so this is cheap
    and comes before any generator loads); a pickle anywhere in it is refused, as the .mar would be."""
    if not directory.is_dir():
        raise LorecastError(f"{directory}: not a selector dir (no such directory)")
    pickles = sorted(str(path.relative_to(directory)) for path in directory.rglob("*")
                     if path.suffix.lower() in PICKLE_SUFFIXES)
    if pickles:
        raise LorecastError(
            f"{directory}: refusing pickle file(s) {', '.join(pickles)} (loading a pickle runs code; "
            "a selector dir holds safetensors weights and a JSON config)"
        )
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        if not (directory / name).is_file():
            raise LorecastError(f"{directory}: not a selector dir, no {name} (see `lorecast train selector`)")
    try:
        Selector.load(directory)
    except Exception as error:  # whatever the files hold, a worker would fail the same way at start
        raise LorecastError(f"{directory}: not a loadable selector: {error}") from None
    return [directory / CONFIG_FILE, directory / WEIGHTS_FILE]
