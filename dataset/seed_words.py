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

MIN_LENGTH = 3
_SKIPPED = re.compile(r"<\|\w+\|>|https?://\S+|www\.\S+")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")

# Function words and the most common verbs of English: words that would prompt nothing in
# particular. Kept short on purpose; only words of MIN_LENGTH or more matter, and a possessive
# 's is gone before the lookup ("that's" is looked up as "that").
STOPWORDS = frozenset(
    """
    about above after again against all also although among and another any anyone anything are
    aren't around because been before being below between both but can can't cannot could couldn't
    did didn't does doesn't doing don't down during each either else etc even ever every few for
    from further get gets got had hadn't has hasn't have haven't having her here hers herself him
    himself his how however i'd i'll i'm i've into isn't its itself just let like made make many
    may might more most much must mustn't myself neither never nor not now off once one only onto
    other others our ours ourselves out over own per quite rather same see seen shall she she'd
    she'll should shouldn't since some something such than that the their theirs them themselves
    then there these they they'd they'll they're they've this those though through thus too two
    under until upon use used using very via was wasn't way we'd we'll we're we've well were
    weren't what when where which while who whom whose why will with within without won't would
    wouldn't yet you you'd you'll you're you've your yours yourself yourselves
    """.split()
)


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
