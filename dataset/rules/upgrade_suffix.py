"""Strip a trailing upgrade level such as the ` +2` in `Longsword +2`.

Item names list every upgrade level as its own entry; without the suffix they collapse into one
name (and deduplicate). Only a space, a plus and digits at the very end are removed.
"""

from __future__ import annotations

import re

from dataset.rules.base import Rule

_SUFFIX = re.compile(r"\s+\+\d+\s*$")


class UpgradeSuffix(Rule):
    name = "upgrade_suffix"
    description = "strip a trailing upgrade level: 'Longsword +2' -> 'Longsword'"

    def apply(self, text: str) -> str | None:
        return _SUFFIX.sub("", text)
