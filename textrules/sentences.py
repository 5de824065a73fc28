"""Where a full stop ends no sentence: the one list of abbreviations (and the quotes and brackets that may open
a word or close a sentence), and the sentence splitter built on it (`split_sentences`, whose rule
dataset/sentences.py describes). The corpus build splits passages with it, the archive splits training lines
into the novelty index with it, the worker splits candidates with it (serve_handler/novelty.py), and the
worker's sentence-end cut uses the list (serve_handler/filters/sentence_end.py).

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


# Candidate ends: the punctuation, closing quotes/brackets, then the whitespace we split on.
_END = re.compile(rf"(?P<punct>\.\.\.|…|[.!?]+)(?P<close>[{re.escape(CLOSERS)}]*)(?P<space>\s+)")


def _starts_sentence(text: str, position: int) -> bool:
    rest = text[position:].lstrip(OPENERS)
    return bool(rest) and (rest[0].isupper() or rest[0].isdigit())


def _ends_no_sentence(text: str, period: int) -> bool:
    """Whether the word ending just before `text[period] == "."` is an abbreviation or a list number."""
    before = text[:period]
    word = "" if not before or before[-1].isspace() else before.split()[-1].lstrip(OPENERS)
    if word.isdigit() and len(word) <= 2:
        # "1." after punctuation or at the start numbers a list item ("former. 2. To", "[Usenet] 1.
        # A"); after a word it ends a sentence ("chapter 2. Then"), and so does a year ("in 1990.").
        before_number = before[: len(before) - len(word)].rstrip()
        return not before_number or not before_number[-1].isalnum()
    return is_abbreviation(word)


def split_sentences(text: str) -> list[str]:
    """The sentences of `text`, stripped, in order; a text with no sentence end is one sentence."""
    sentences, start = [], 0
    for end in _END.finditer(text):
        if not _starts_sentence(text, end.end()):
            continue
        # A closing quote right after the dot ends a sentence, abbreviation or not ('said "no."').
        quoted = any(mark in end["close"] for mark in "\"'”’»")
        if end["punct"] == "." and not quoted and _ends_no_sentence(text, end.start("punct")):
            continue
        sentences.append(text[start : end.start("space")].strip())
        start = end.end()
    sentences.append(text[start:].strip())
    return [sentence for sentence in sentences if sentence]
