"""Drop examples that contain a blocked word or phrase, with the worker's own matcher (textrules.blocklist):
whole words only, through case, accents and obscured spellings. So the term "ass" drops "a$$" but keeps
"a classic".

The terms come from `--block` and from `--blocklist` files; an empty list blocks nothing.
"""

from __future__ import annotations

from dataset.rules.base import Rule, RuleSettings
from textrules.blocklist import Blocklist as Matcher


class Blocklist(Rule):
    name = "blocklist"
    description = "drop examples holding a --block / --blocklist word or phrase (whole words, obscured too)"
    after_split = True

    def __init__(self, terms: tuple[str, ...]):
        self._matcher = Matcher(term for term in terms if term)

    @classmethod
    def from_settings(cls, settings: RuleSettings) -> Blocklist:
        return cls(settings.block)

    def apply(self, text: str) -> str | None:
        return None if self._matcher.blocked(text) else text
