"""The handler's own settings (serve_handler/settings.py) as options: `lorecast train sample` previews what an
archive built with them serves, and `lorecast archive` (ops/) packs them into model-config.yaml. They live here,
not in ops/, because ops/ builds on trainer/ (the archive reads the model dir's metadata), never the reverse.

    @handler_settings_options            adds --familiar-words, --min-chars, --max-chars, --toxicity-threshold
    def command(..., **options): settings = handler_settings(options)   # takes those four out of options
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from serve_handler.settings import HandlerSettings, SettingsError

_DEFAULTS = HandlerSettings()
_NAMES = ("familiar_words", "min_chars", "max_chars", "toxicity_threshold")

_OPTIONS = (
    click.option("--familiar-words", type=click.IntRange(min=1), default=_DEFAULTS.familiar_words,
                 show_default=True,
                 help="A request without seed or prompt starts from one of this many most frequent seed words."),
    click.option("--min-chars", type=click.IntRange(min=0), default=_DEFAULTS.min_chars, show_default=True,
                 help="Reject generated texts shorter than this many characters."),
    click.option("--max-chars", type=click.IntRange(min=0), default=_DEFAULTS.max_chars, show_default=True,
                 help="Reject generated texts longer than this many characters."),
    click.option("--toxicity-threshold", type=click.FloatRange(0.0, 1.0), default=_DEFAULTS.toxicity_threshold,
                 show_default=True,
                 help="Reject texts the offline profanity model rates at least this likely; 1.0 turns it off."),
)


def handler_settings_options(command: Callable) -> Callable:
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def handler_settings(options: dict[str, Any]) -> HandlerSettings:
    """The settings the four options give, taken out of a command's keyword arguments."""
    try:
        return HandlerSettings(**{name: options.pop(name) for name in _NAMES})
    except SettingsError as error:  # the ranges are checked by click; this is --min-chars above --max-chars
        raise click.UsageError(f"bad handler option: {error}") from None
