"""Replace typographic quotes, apostrophes and dashes with their plain ASCII equivalents.

One spelling per character keeps the tokenizer from learning the same word twice (`don't` and
`don’t`). Only characters with an obvious ASCII stand-in are touched.
"""

from __future__ import annotations

from dataset.rules.base import Rule

_PLAIN = str.maketrans(
    {
        **dict.fromkeys("‘’‚‛′", "'"),
        **dict.fromkeys("“”„‟″«»", '"'),
        **dict.fromkeys("‐‑‒–−", "-"),  # hyphens, figure and en dash, minus sign
        "—": "--",  # em dash: the usual ASCII spelling
        "―": "--",
    }
)


class Quotes(Rule):
    name = "quotes"
    description = "replace curly quotes, apostrophes and dash variants with plain ASCII ones"

    def apply(self, text: str) -> str | None:
        return text.translate(_PLAIN)
