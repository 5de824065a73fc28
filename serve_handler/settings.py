"""The `handler:` section of model-config.yaml: the handler's own settings, fixed when the archive is built.

TorchServe parses model-config.yaml and hands the handler the whole document as `context.model_yaml_config`;
`HandlerSettings.from_section(config.get("handler"))` reads this section, with the defaults below for what it
leaves out. An unknown key or a value out of range fails the worker's start with a one-line reason (a typo must
not silently fall back to a default).

    handler:
      familiar_words: 2000        a request without seed or prompt starts from a random one of the N most frequent
                                  seed words
      min_chars: 12               candidates shorter than this (after the sentence-end cut) are rejected
      max_chars: 280              ... and longer than this
      toxicity_threshold: 0.5     reject when the offline profanity model's probability is at least this;
                                  1.0 turns the check off
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


class SettingsError(ValueError):
    """A bad `handler:` section in model-config.yaml."""


@dataclass(frozen=True)
class HandlerSettings:
    familiar_words: int = 2000
    min_chars: int = 12
    max_chars: int = 280
    toxicity_threshold: float = 0.5

    def __post_init__(self) -> None:
        if self.familiar_words < 1:
            raise SettingsError(f"handler.familiar_words must be at least 1, got {self.familiar_words}")
        if not 0 <= self.min_chars <= self.max_chars:
            raise SettingsError(
                f"handler.min_chars ({self.min_chars}) must be between 0 and max_chars ({self.max_chars})"
            )
        if not 0.0 <= self.toxicity_threshold <= 1.0:
            raise SettingsError(f"handler.toxicity_threshold must be in [0, 1], got {self.toxicity_threshold}")

    @classmethod
    def from_section(cls, section: dict[str, Any] | None) -> HandlerSettings:
        section = dict(section or {})
        known = {field.name: field.type for field in fields(cls)}
        unknown = sorted(set(section) - set(known))
        if unknown:
            raise SettingsError(f"unknown key(s) in model-config.yaml handler section: {', '.join(unknown)}")
        values = {}
        for name, value in section.items():
            wanted = int if known[name] == "int" else float
            not_a_number = isinstance(value, bool) or not isinstance(value, (int, float))
            if not_a_number or (wanted is int and value != int(value)):
                whole = " (whole)" if wanted is int else ""
                raise SettingsError(f"handler.{name} must be a number{whole}, got {value!r}")
            values[name] = wanted(value)
        return cls(**values)

    def as_section(self) -> dict[str, Any]:
        return {field.name: getattr(self, field.name) for field in fields(self)}
