"""Decode HTML/XML character references left in text (`&amp;`, `&#x2019;`, `&eacute;`)."""

from __future__ import annotations

import html

from dataset.rules.base import Rule


class Entities(Rule):
    name = "entities"
    description = "decode HTML/XML entities such as &amp; and &#x2019;"

    def apply(self, text: str) -> str | None:
        # One pass only: a text that really says "&amp;amp;" keeps one level of escaping.
        return html.unescape(text)
