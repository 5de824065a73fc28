"""Collapse every run of whitespace to one space and strip the ends.

Line breaks, tabs, no-break and other Unicode spaces all count as whitespace. Invisible
characters that only mark break or join opportunities (zero-width space, word joiner, byte-order
mark, soft hyphen) are removed outright, since they sit inside words. Zero-width (non-)joiners
stay: they shape emoji sequences and several scripts.
"""

from __future__ import annotations

import re

from dataset.rules.base import Rule

_INVISIBLE = re.compile("[\u200b\u2060\ufeff\u00ad]")
_WHITESPACE = re.compile(r"\s+")


class Whitespace(Rule):
    name = "whitespace"
    description = "turn line breaks, tabs and odd spaces into single spaces; remove zero-width characters"

    def apply(self, text: str) -> str | None:
        return _WHITESPACE.sub(" ", _INVISIBLE.sub("", text)).strip()
