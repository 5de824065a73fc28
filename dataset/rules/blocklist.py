"""Drop examples that contain a blocked substring (case-insensitive).

The terms come from `--block` and from `--blocklist` files; an empty list blocks nothing.
"""

from __future__ import annotations

from dataset.rules.base import Rule, RuleSettings


class Blocklist(Rule):
    name = "blocklist"
    description = "drop examples containing a --block / --blocklist substring (any case)"
    after_split = True

    def __init__(self, terms: tuple[str, ...]):
        self._terms = tuple({term.casefold() for term in terms if term})

    @classmethod
    def from_settings(cls, settings: RuleSettings) -> Blocklist:
        return cls(settings.block)

    def apply(self, text: str) -> str | None:
        folded = text.casefold()
        return None if any(term in folded for term in self._terms) else text
