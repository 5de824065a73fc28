"""What a cleaning rule is, and the settings that the configurable ones read.

A rule maps one text to its cleaned form, or to None to drop the example. Rules never count
anything themselves: `dataset.rules.chain.RuleChain` applies them in order and counts, per
rule, what it dropped and what it changed.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class RuleSettings:
    """The knobs of the configurable rules (the others take none)."""

    extra_labels: tuple[str, ...] = ()  # labels to strip besides the default ones
    min_chars: int = 3
    max_chars: int = 1000
    block: tuple[str, ...] = ()  # blocked words and phrases (textrules.blocklist)


class Rule(ABC):
    name: ClassVar[str]  # what --rules and meta.json call it
    description: ClassVar[str]  # one line, shown in --help and meta.json
    # Rules that judge finished examples run after long passages are split into sentences.
    after_split: ClassVar[bool] = False

    @classmethod
    def from_settings(cls, settings: RuleSettings) -> Rule:
        return cls()

    @abstractmethod
    def apply(self, text: str) -> str | None:
        """The cleaned text, or None to drop the example."""
