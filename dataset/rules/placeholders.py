"""Drop placeholder entries that game exports use for "no text here"."""

from __future__ import annotations

from dataset.rules.base import Rule

# Compared case-insensitively after stripping, so `no_text` and `NO_TEXT` are both caught.
PLACEHOLDERS = frozenset({"%null%", "no_text"})


class Placeholders(Rule):
    name = "placeholders"
    description = "drop empty texts and placeholders (%null%, no_text, NO_TEXT)"

    def apply(self, text: str) -> str | None:
        stripped = text.strip()
        if not stripped or stripped.casefold() in PLACEHOLDERS:
            return None
        return text
