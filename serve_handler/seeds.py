"""Seed words: the word a generation starts from when a request gives no prompt.

The list is the corpus's words.txt (contract 1: "word<TAB>count" per line, lower-case, most frequent first),
read once when the worker starts. A request without seed or prompt starts from a random one of the
`familiar` most frequent words, drawn with the request's own random stream, so the same `rng_seed` picks the
same word. A requested seed the model has not seen is replaced by the closest known word by Levenshtein
distance (ties go to the more frequent word); the response reports both.

A reply request (`reply_to`) is seeded from what was said: `from_mention(words)` maps each word to a known one (as
it is, or the closest known word: one edit away for a word of 4 to 6 letters, two for a longer one, so "lantrn"
finds "lantern" while "cat" never becomes "car") and takes the most distinctive: the rarest, latest in words.txt.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

MAX_MENTION_EDITS = 2


class SeedWords:
    def __init__(self, words: Sequence[str], familiar: int) -> None:
        if not words:
            raise ValueError("the seed-word list is empty")
        self._words = list(words)
        self._rank = {word: rank for rank, word in enumerate(self._words)}  # 0: the most frequent
        self._known = set(self._words)
        self._familiar = self._words[:familiar]

    @classmethod
    def from_file(cls, path: str | Path, familiar: int) -> SeedWords:
        words = []
        with open(path, encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                word = line.split("\t", 1)[0].strip()
                if not word:
                    raise ValueError(f"{path}:{number}: empty seed word")
                words.append(word)
        return cls(words, familiar)

    def __len__(self) -> int:
        return len(self._words)

    def draw(self, rng: random.Random) -> str:
        return rng.choice(self._familiar)

    def closest(self, word: str) -> str:
        """`word` itself when known (case-insensitively), else the known word fewest edits away."""
        wanted = word.strip().lower()
        if wanted in self._known:
            return wanted
        # extractOne keeps the first of equally close words, and the list is most frequent first.
        match, _distance, _index = process.extractOne(wanted, self._words, scorer=Levenshtein.distance)
        return match

    def from_mention(self, words: Sequence[str]) -> tuple[str, str] | None:
        """(the word as said, the seed word it maps to) for the rarest word of `words` that maps; None when none
        does."""
        best: tuple[int, str, str] | None = None
        for said in words:
            known = self._mapped(said.lower())
            if known is not None and (best is None or self._rank[known] > best[0]):
                best = (self._rank[known], said, known)
        return None if best is None else (best[1], best[2])

    def _mapped(self, word: str) -> str | None:
        if word in self._known:
            return word
        limit = min(MAX_MENTION_EDITS, (len(word) - 1) // 3)  # 3 letters: none, 4-6: one, 7 and more: two
        if limit < 1:
            return None
        found = process.extractOne(word, self._words, scorer=Levenshtein.distance, score_cutoff=limit)
        return None if found is None else found[0]
