"""Where a full stop ends no sentence: the one list of abbreviations (and the quotes and brackets that may open
a word or close a sentence), for the corpus build's sentence splitter (dataset/sentences.py) and the worker's
sentence-end cut (serve_handler/filters/sentence_end.py).

A full stop right after one of these words does not end a sentence:
- a known abbreviation that a capitalised word usually follows inside a sentence: titles ("Dr. Jones"),
  references ("cf. Smith", "fig. 3") and the grammar labels of dictionaries (the demo corpus is one: "obs.",
  "adj."). "etc." is left out on purpose: it often ends a sentence;
- a dotted acronym up to its last full stop ("e.g.", "i.e.", "U.S.", "a.m.");
- a capital initial ("J. Random Hacker"). A lower-case letter is a word ("call it x. Then").
"""

from __future__ import annotations

import re

ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof st jr sr vs cf fig figs vol pp approx capt col gen lt sgt rev mt
    adj adv esp vt vi pl abbr obs orig prob syn""".split()
)
# What may open a word before its letters, and close a sentence after its final mark: quotes and brackets.
OPENERS = "\"'“‘«‹([{"
CLOSERS = "\"'”’»›)]}"
_DOTTED_ACRONYM = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]")  # "e.g", "U.S", "a.m": the last dot is the one judged


def is_abbreviation(word: str) -> bool:
    """Whether a full stop right after `word` (one whitespace-free token) ends no sentence (module docstring)."""
    word = word.lstrip(OPENERS)
    if len(word) == 1:
        return word.isalpha() and word.isupper()
    return word.casefold() in ABBREVIATIONS or bool(_DOTTED_ACRONYM.fullmatch(word))
