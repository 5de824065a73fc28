"""Strip field labels such as `Weapon type:` or `Skill:` at the start of the text or of a line.

Game descriptions often carry a stat-sheet label before the prose; the label says nothing a
model should learn to write. Matching is case-insensitive, only at a line start, and needs the
colon, so "Skill is..." in prose is left alone.
"""

from __future__ import annotations

import re

from dataset.rules.base import Rule, RuleSettings

DEFAULT_LABELS = ("Weapon type", "Attack type", "Skill", "Weapon skill", "Effect")


class Labels(Rule):
    name = "labels"
    description = "strip leading labels like 'Weapon type:' or 'Skill:' (add more with --label)"

    def __init__(self, labels: tuple[str, ...] = DEFAULT_LABELS):
        # A user may write the label with or without its colon.
        names = {label.strip().rstrip(":").strip() for label in labels} - {""}
        alternatives = "|".join(re.escape(name) for name in sorted(names))
        self._pattern = None
        if names:
            self._pattern = re.compile(rf"^[ \t]*(?:{alternatives})[ \t]*:[ \t]*", re.IGNORECASE | re.MULTILINE)

    @classmethod
    def from_settings(cls, settings: RuleSettings) -> Labels:
        return cls(DEFAULT_LABELS + settings.extra_labels)

    def apply(self, text: str) -> str | None:
        if self._pattern is None:
            return text
        return self._pattern.sub("", text)
