"""Split long passages into examples made of whole sentences, with no NLP library.

A sentence ends at `.`, `!`, `?`, `...` or `…`, optionally followed by closing quotes or
brackets, when whitespace and then an uppercase letter or a digit (possibly after an opening
quote or bracket) come next. So decimals (`3.14`), an ellipsis inside a sentence (`wait... what`)
and `etc.` before a lowercase word never split. A single `.` does not end a sentence after an
abbreviation (`textrules.sentences`, the list the served texts are cut with too: `Dr.`, `e.g.`, a
capital initial) or a list number (`... former. 2. To ...`), unless a closing quote follows it.

`chunk_passage` then packs consecutive sentences greedily into chunks of at most `limit`
characters, joined by one space. A sentence longer than the limit stays whole as its own chunk
(the `length` rule decides its fate).
"""

from __future__ import annotations

import re

from textrules.sentences import CLOSERS, OPENERS, is_abbreviation

# Candidate ends: the punctuation, closing quotes/brackets, then the whitespace we split on.
_END = re.compile(rf"(?P<punct>\.\.\.|…|[.!?]+)(?P<close>[{re.escape(CLOSERS)}]*)(?P<space>\s+)")


def _starts_sentence(text: str, position: int) -> bool:
    rest = text[position:].lstrip(OPENERS)
    return bool(rest) and (rest[0].isupper() or rest[0].isdigit())


def _is_abbreviation(text: str, period: int) -> bool:
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
        if end["punct"] == "." and not quoted and _is_abbreviation(text, end.start("punct")):
            continue
        sentences.append(text[start : end.start("space")].strip())
        start = end.end()
    sentences.append(text[start:].strip())
    return [sentence for sentence in sentences if sentence]


def chunk_passage(text: str, limit: int, first_limit: int | None = None) -> list[str]:
    """`text` as one chunk when it fits, else packed sentence chunks of at most `limit` chars.

    `first_limit` (default `limit`) bounds the first chunk, which leaves room for a title prefix.
    """
    first_limit = limit if first_limit is None else first_limit
    if len(text) <= first_limit:
        return [text]
    chunks: list[str] = []
    current = ""
    for sentence in split_sentences(text):
        capacity = limit if chunks else first_limit
        joined = f"{current} {sentence}" if current else sentence
        if current and len(joined) > capacity:
            chunks.append(current)
            current = sentence
        else:
            current = joined
    if current:
        chunks.append(current)
    return chunks
