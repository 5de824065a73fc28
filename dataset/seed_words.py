"""Seed words: the frequent content words of the training text, for prompting the generator.

Tokens are runs of letters (apostrophes inside a word kept, curly ones straightened, a possessive `'s`
dropped); conversation tags (`<|sor|>`) and URLs are skipped first so they do not turn into words. A word is
its lower-cased token; it needs at least `MIN_LENGTH` letters, must not be a stopword, and must occur at least
`min_count` times. Titles are counted like any other text in train.txt: a headword or item name that made it
into the examples makes an excellent seed.

Each word also keeps its form, the casing a prompt starts with (the generator is prompted with
`<|endoftext|>` + form, so the form should be how the corpus's lines open with that word):
1. the casing it has most often as the first token of a line, when it ever opens one ("Moonlight" for an item
   name, "kernel" for a lower-case headword);
2. else the casing it has most often anywhere ("Unix", "IBM", "data"): a word that never opens a line is
   still best written the way the corpus writes it;
ties going to the casing more frequent anywhere, then to the one the lines have first, so the same lines
always give the same forms.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Iterable

from dataset.corpus import SeedWord
from dataset.stopwords import STOPWORDS

MIN_LENGTH = 3
_SKIPPED = re.compile(r"<\|\w+\|>|https?://\S+|www\.\S+")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")


def tokens_of(text: str) -> list[str]:
    """The word tokens of one text as written, before any filtering."""
    tokens = []
    for match in _WORD.finditer(_SKIPPED.sub(" ", text)):
        token = match.group().replace("’", "'")
        tokens.append(token[:-2] if token[-2:] in ("'s", "'S") else token)
    return tokens


def words_of(text: str) -> list[str]:
    """The lower-cased word tokens of one text, before any filtering."""
    return [token.lower() for token in tokens_of(text)]


def _is_seed_word(word: str) -> bool:
    return len(word) >= MIN_LENGTH and word not in STOPWORDS


def count_seed_words(lines: Iterable[str], min_count: int) -> list[SeedWord]:
    """(word, count, form) for the seed words of `lines`, most frequent first, ties by word."""
    anywhere: defaultdict[str, Counter[str]] = defaultdict(Counter)  # word -> its casings -> occurrences
    opening: defaultdict[str, Counter[str]] = defaultdict(Counter)  # the same, as a line's first token
    for line in lines:
        for position, token in enumerate(tokens_of(line)):
            word = token.lower()
            if _is_seed_word(word):
                anywhere[word][token] += 1
                if position == 0:
                    opening[word][token] += 1
    counts = {word: sum(casings.values()) for word, casings in anywhere.items()}
    kept = sorted((word for word, count in counts.items() if count >= min_count), key=lambda w: (-counts[w], w))
    return [SeedWord(word, counts[word], _form(anywhere[word], opening[word])) for word in kept]


def _form(anywhere: Counter[str], opening: Counter[str]) -> str:
    """The module docstring's rule: most often opening a line, else most often anywhere, else seen first."""
    # min keeps the first of equal keys, and a Counter iterates in the order its keys were first seen.
    return min(anywhere, key=lambda casing: (-opening[casing], -anywhere[casing]))
