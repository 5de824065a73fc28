"""Apply the chosen rules in order and count, per rule, what it dropped and what it changed.

Counting units: the rules before the split count records (a record is "changed" when the rule
changed its text or its title, "dropped" when it dropped its text); the rules after the split
count examples. A rule that leaves nothing but whitespace has dropped the text. A title that a
rule drops becomes "" and the record lives on without it.
"""

from __future__ import annotations

from dataclasses import dataclass

from dataset.rules.base import Rule


@dataclass
class RuleCount:
    dropped: int = 0
    changed: int = 0


def _apply(rule: Rule, text: str) -> str | None:
    result = rule.apply(text)
    return result if result is not None and result.strip() else None


class RuleChain:
    def __init__(self, rules: list[Rule]):
        self.rules = rules
        self.passage_rules = [rule for rule in rules if not rule.after_split]
        self.example_rules = [rule for rule in rules if rule.after_split]
        self.counts = {rule.name: RuleCount() for rule in rules}

    def clean_passage(self, text: str, title: str) -> tuple[str, str] | None:
        """(text, title) after the pre-split rules, or None when a rule dropped the text."""
        for rule in self.passage_rules:
            count = self.counts[rule.name]
            new_text = _apply(rule, text)
            if new_text is None:
                count.dropped += 1
                return None
            new_title = (_apply(rule, title) or "") if title else ""
            if new_text != text or new_title != title:
                count.changed += 1
            text, title = new_text, new_title
        return text, title

    def clean_example(self, example: str) -> str | None:
        """A finished example after the post-split rules, or None when one dropped it."""
        for rule in self.example_rules:
            count = self.counts[rule.name]
            new_example = _apply(rule, example)
            if new_example is None:
                count.dropped += 1
                return None
            if new_example != example:
                count.changed += 1
            example = new_example
        return example
