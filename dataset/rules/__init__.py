"""The cleaning rules, their fixed order of application, and `--rules` parsing.

Order (each rule sees what the previous ones left):

    placeholders, entities, labels, whitespace, quotes, upgrade_suffix
        -> long passages are split into sentence-packed examples, titles prefixed
    length, text_art, blocklist

`labels` runs before `whitespace` because it works line by line and `whitespace` joins the lines.
The rules before the split apply to a record's text and to its title; the ones after it judge
finished examples. Whatever order a user lists them in, they run in this one.
"""

from __future__ import annotations

from dataset.rules.base import Rule, RuleSettings
from dataset.rules.blocklist import Blocklist
from dataset.rules.entities import Entities
from dataset.rules.labels import DEFAULT_LABELS, Labels
from dataset.rules.length import Length
from dataset.rules.placeholders import Placeholders
from dataset.rules.quotes import Quotes
from dataset.rules.text_art import TextArt
from dataset.rules.upgrade_suffix import UpgradeSuffix
from dataset.rules.whitespace import Whitespace
from lorecast.errors import LorecastError

RULES: tuple[type[Rule], ...] = (
    Placeholders,
    Entities,
    Labels,
    Whitespace,
    Quotes,
    UpgradeSuffix,
    Length,
    TextArt,
    Blocklist,
)
RULE_NAMES: tuple[str, ...] = tuple(rule.name for rule in RULES)

__all__ = [
    "DEFAULT_LABELS",
    "RULES",
    "RULE_NAMES",
    "Rule",
    "RuleSettings",
    "make_rules",
    "parse_rule_selection",
]


def _known() -> str:
    return ", ".join(RULE_NAMES)


def parse_rule_selection(spec: str) -> tuple[str, ...]:
    """Turn a `--rules` value into rule names in application order.

    A comma list read left to right: `default` adds every rule, a name adds that rule, `-name`
    removes it. A list that starts with a removal starts from the default set, so `-labels`
    means `default,-labels`; `placeholders,whitespace` means exactly those two.
    """
    tokens = [token.strip() for token in spec.split(",") if token.strip()]
    if not tokens:
        raise LorecastError(f"--rules is empty; give rule names or 'default' (known rules: {_known()})")
    chosen: set[str] = set(RULE_NAMES) if tokens[0].startswith("-") else set()
    for token in tokens:
        removing = token.startswith("-")
        name = token[1:].strip() if removing else token
        if name == "default":
            names = set(RULE_NAMES)
        elif name in RULE_NAMES:
            names = {name}
        else:
            raise LorecastError(f"unknown rule {name!r} in --rules; known rules: {_known()} (or 'default')")
        chosen = chosen - names if removing else chosen | names
    return tuple(name for name in RULE_NAMES if name in chosen)


def make_rules(names: tuple[str, ...], settings: RuleSettings) -> list[Rule]:
    """The named rules, configured, in application order."""
    unknown = set(names) - set(RULE_NAMES)
    if unknown:
        raise LorecastError(f"unknown rule(s) {', '.join(sorted(unknown))}; known rules: {_known()}")
    return [rule.from_settings(settings) for rule in RULES if rule.name in names]
