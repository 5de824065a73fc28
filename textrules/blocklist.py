"""A blocklist of words and phrases that sees through obscured spellings.

`Blocklist(terms).blocked(text)` returns the first blocked term found in `text` (as it was given, so that the
caller can count rejections by term), or None.

What is normalized, in this order:
1. Text and terms (`normalize`): Unicode NFKD, combining marks dropped, `casefold()`, and runs of one character
   longer than three cut to three. So "BÀD", "bád" and fullwidth "ｂａｄ" read "bad", "baaaaad" reads "baaad".
2. Each letter of a term also matches its leetspeak stand-ins: a: 4 @; e: 3; i: 1 ! |; l: 1 ! |; o: 0; s: 5 $;
   t: 7. A stand-in inside a term ("a$$") matches the letters it stands for, and the letters' own stand-ins.
3. Each letter may appear up to three extra times ("baaad", "b-a-a-d"), and up to three separator characters
   may sit between any two letters ("b.a.d", "b a d", "b - a - d"). A separator is anything that is not a
   letter, a digit or a stand-in above. Only the letters and digits of a term count (with its stand-ins):
   "bad word", "bad-word" and "badword" are the same term, and each matches all three spellings.
4. A match must be a whole word: it may not touch a letter or digit on either side. So "ass" does not flag
   "classic" or "assassin" (the Scunthorpe problem), at the cost of missing a blocked word glued inside a longer
   word ("xxbadxx"): list the forms you want caught ("bad", "baddest").

Trade-off of step 3: letters that are single-letter words of innocent text can spell a term across real word
breaks ("plan b, a d-minus" reads "b, a d" -> "bad"). Accepted: short texts, and rejecting a good candidate costs
far less than posting a bad one. The bounds (three extra letters, three separators, runs cut to three) keep the
regex from backtracking for minutes on hostile input such as "1111…" against a term with i and l in it.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path

_STAND_INS = {"a": "4@", "e": "3", "i": "1!|", "l": "1!|", "o": "0", "s": "5$", "t": "7"}
_SYMBOLS = "".join(sorted({symbol for symbols in _STAND_INS.values() for symbol in symbols if not symbol.isalnum()}))
_SEPARATOR = rf"(?:[^\w{re.escape(_SYMBOLS)}]|_)"
_GAP = f"{_SEPARATOR}{{0,3}}"
_NOT_TOUCHING_BEFORE = r"(?<![^\W_])"  # no letter or digit right before
_NOT_TOUCHING_AFTER = r"(?![^\W_])"
_LONG_RUN = re.compile(r"(.)\1{3,}", re.DOTALL)
_EXTRA_LETTERS = 3


def normalize(text: str) -> str:
    """Step 1: drop accents, fold case, cut runs of one character to three."""
    decomposed = unicodedata.normalize("NFKD", text)
    folded = "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()
    return _LONG_RUN.sub(r"\1\1\1", folded)


def _letter_class(char: str) -> str:
    """A regex class of `char`, and, when it is a letter or a stand-in, every spelling of the same letter."""
    letters = {letter for letter, symbols in _STAND_INS.items() if char == letter or char in symbols}
    spellings = {char}.union(*({letter, *_STAND_INS[letter]} for letter in letters))
    return "[" + "".join(re.escape(spelling) for spelling in sorted(spellings)) + "]"


def _term_pattern(term: str) -> str:
    classes = [_letter_class(char) for char in normalize(term) if char.isalnum() or char in _SYMBOLS]
    if not classes:
        raise ValueError(f"blocklist term {term!r} has no letters or digits")
    # A run of one letter ("ss") is one unit with a count, not two units: adjacent units of the same letter would
    # let the regex try every split of a long run between them.
    units = []
    for spelled, run in itertools.groupby(classes):
        count = len(list(run))
        units.append(f"{spelled}(?:{_GAP}{spelled}){{{count - 1},{count - 1 + _EXTRA_LETTERS}}}")
    return _GAP.join(units)


class Blocklist:
    """Blocked words and phrases, matched as whole words through the normalizations in the module docstring."""

    def __init__(self, terms: Iterable[str]) -> None:
        self.terms = tuple(terms)
        # One alternation with a group per term: one scan of the text, and `lastindex` says which term matched.
        alternatives = "|".join(f"({_term_pattern(term)})" for term in self.terms)
        self._pattern = (
            re.compile(f"{_NOT_TOUCHING_BEFORE}(?:{alternatives}){_NOT_TOUCHING_AFTER}") if self.terms else None
        )

    def blocked(self, text: str) -> str | None:
        """The blocked term found leftmost in `text` (the earlier-listed one on a tie), or None."""
        if self._pattern is None:
            return None
        match = self._pattern.search(normalize(text))
        return None if match is None else self.terms[match.lastindex - 1]


def term_of(line: str) -> str:
    """The term on one line of a blocklist file: '#' starts a comment; "" for a blank or comment line."""
    return line.split("#", 1)[0].strip()


def read_terms(path: str | Path) -> list[str]:
    """Terms from a blocklist file: one per line; blank lines and '#' comments are skipped."""
    with open(path, encoding="utf-8") as lines:
        return [term for line in lines if (term := term_of(line))]
