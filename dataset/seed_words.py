"""Seed words: the frequent content words of the training text, for prompting the generator.

Tokens are runs of letters (apostrophes inside a word kept, a possessive `'s` dropped),
lower-cased; conversation tags (`<|sor|>`) and URLs are skipped first so they do not turn into
words. A word needs at least `MIN_LENGTH` letters, must not be a stopword, and must occur at least
`min_count` times. Titles are counted like any other text in train.txt: a headword or item name
that made it into the examples makes an excellent seed.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Iterable

from dataset.stopwords import STOPWORDS

MIN_LENGTH = 3
_SKIPPED = re.compile(r"<\|\w+\|>|https?://\S+|www\.\S+")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")


def words_of(text: str) -> list[str]:
    """The lower-cased word tokens of one text, before any filtering."""
    tokens = []
    for match in _WORD.finditer(_SKIPPED.sub(" ", text)):
        word = match.group().lower().replace("’", "'")
        tokens.append(word[:-2] if word.endswith("'s") else word)
    return tokens


def count_seed_words(lines: Iterable[str], min_count: int) -> list[tuple[str, int]]:
    """(word, count) for the seed words of `lines`, most frequent first, ties by word."""
    counts = Counter(
        word
        for line in lines
        for word in words_of(line)
        if len(word) >= MIN_LENGTH and word not in STOPWORDS
    )
    return sorted(((w, c) for w, c in counts.items() if c >= min_count), key=lambda item: (-item[1], item[0]))
