"""Drop examples outside the length bounds, counted in characters of the finished example."""

from __future__ import annotations

from dataset.rules.base import Rule, RuleSettings


class Length(Rule):
    name = "length"
    description = "drop examples shorter than --min-chars or longer than --max-chars"
    after_split = True

    def __init__(self, min_chars: int, max_chars: int):
        self.min_chars, self.max_chars = min_chars, max_chars

    @classmethod
    def from_settings(cls, settings: RuleSettings) -> Length:
        return cls(settings.min_chars, settings.max_chars)

    def apply(self, text: str) -> str | None:
        return text if self.min_chars <= len(text) <= self.max_chars else None
