"""Drop examples that contain box-drawing or block characters (tables and ASCII art).

Flattened onto one line, a table drawn with ─ │ ┌ ┼ reads as noise, and a model trained on it
learns to emit runs of rule characters. Unicode's Box Drawing and Block Elements ranges
(U+2500–U+259F) cover what such drawings are made of.
"""

from __future__ import annotations

import re

from dataset.rules.base import Rule

_DRAWING = re.compile("[\u2500-\u259f]")


class TextArt(Rule):
    name = "text_art"
    description = "drop examples with box-drawing characters (flattened tables, ASCII art)"
    after_split = True

    def apply(self, text: str) -> str | None:
        return None if _DRAWING.search(text) else text
