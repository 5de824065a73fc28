"""The blocklist: its file format and the one matcher, for the corpus build and the worker alike.

`Blocklist(terms).blocked(text)` returns the first blocked term found in `text` (as it was given, so that the
caller can count rejections by term), or None. `parse_terms` / `read_terms` read a blocklist file (format there).

What is normalized, in this order:
1. Text and terms (`forms.blocklist_form`): Unicode NFKD, combining marks dropped, `casefold()`, and runs of one
   character longer than three cut to three. So "BÀD", "bád" and fullwidth "ｂａｄ" read "bad", "baaaaad" reads "baaad".
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
from collections.abc import Iterable
from pathlib import Path

from textrules.forms import blocklist_form

_STAND_INS = {"a": "4@", "e": "3", "i": "1!|", "l": "1!|", "o": "0", "s": "5$", "t": "7"}
_SYMBOLS = "".join(sorted({symbol for symbols in _STAND_INS.values() for symbol in symbols if not symbol.isalnum()}))
_SEPARATOR = rf"(?:[^\w{re.escape(_SYMBOLS)}]|_)"
_GAP = f"{_SEPARATOR}{{0,3}}"
_NOT_TOUCHING_BEFORE = r"(?<![^\W_])"  # no letter or digit right before
_NOT_TOUCHING_AFTER = r"(?![^\W_])"
_EXTRA_LETTERS = 3


def _letter_class(char: str) -> str:
    """A regex class of `char`, and, when it is a letter or a stand-in, every spelling of the same letter."""
    letters = {letter for letter, symbols in _STAND_INS.items() if char == letter or char in symbols}
    spellings = {char}.union(*({letter, *_STAND_INS[letter]} for letter in letters))
    return "[" + "".join(re.escape(spelling) for spelling in sorted(spellings)) + "]"


def _term_pattern(term: str) -> str:
    classes = [_letter_class(char) for char in blocklist_form(term) if char.isalnum() or char in _SYMBOLS]
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
        match = self._pattern.search(blocklist_form(text))
        return None if match is None else self.terms[match.lastindex - 1]


def term_of(line: str) -> str:
    """The term on one line of a blocklist file: '#' starts a comment; "" for a blank or comment line."""
    return line.split("#", 1)[0].strip()


class BlocklistLineError(ValueError):
    """A line of a blocklist file that holds no term the matcher can match (only punctuation, say)."""

    def __init__(self, line: int, reason: str) -> None:
        self.line, self.reason = line, reason
        super().__init__(f"line {line}: {reason}")


def parse_terms(lines: Iterable[tuple[int, str]]) -> list[str]:
    """The terms of a blocklist file's (line number, line) pairs, in order and without repeats.

    The file format, for `lorecast dataset build --blocklist` and `lorecast archive --blocklist` alike: one term
    (a word or a phrase) per line; '#' starts a comment, to the end of the line; blank lines are skipped. A term
    with no letter or digit raises BlocklistLineError: it could never match, and a silent no-op would hide it.
    """
    terms: dict[str, None] = {}
    for number, line in lines:
        term = term_of(line)
        if not term:
            continue
        try:
            _term_pattern(term)
        except ValueError as error:
            raise BlocklistLineError(number, str(error)) from None
        terms.setdefault(term)
    return list(terms)


def format_terms(terms: Iterable[str]) -> str:
    """A blocklist file of these terms, one a line (what `lorecast archive` packs as blocklist.txt)."""
    return "".join(term + "\n" for term in terms)


def read_terms(path: str | Path) -> list[str]:
    """The terms of a blocklist file (UTF-8; the format of `parse_terms`)."""
    with open(path, encoding="utf-8") as lines:
        return parse_terms(enumerate(lines, 1))
