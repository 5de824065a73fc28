"""Seed words: the word a generation starts from when a request gives no prompt.

The list is the corpus's words.txt (contract 1: "word<TAB>count<TAB>form" per line, most frequent first; the word
lower-case, the form the casing the corpus's lines open with it, dataset/seed_words.py), read once when the worker
starts. A file from before forms has two columns: then each word is its own form. Words are looked up
case-insensitively, by the lower-case word; what comes back is what the prompt starts with:
- a request without seed or prompt starts from a random one of the `familiar` most frequent words, in its form,
  drawn with the request's own random stream, so the same `rng_seed` picks the same word;
- a requested seed the model knows keeps the casing it was asked in ("Kernel" and "kernel" both stay as asked);
  one it has not seen is replaced by the form of the closest known word by Levenshtein distance (ties go to the
  more frequent word); the response reports both.

A reply request (`reply_to`) is seeded from what was said: `from_mention(words)` maps each word to a known one (as
it is, or the closest known word: one edit away for a word of 4 to 6 letters, two for a longer one, so "lantrn"
finds "lantern" while "cat" never becomes "car") and takes the most distinctive: the rarest, latest in words.txt;
its seed is that word's form, however it was said.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from pathlib import Path

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

MAX_MENTION_EDITS = 2


class SeedWords:
    def __init__(self, words: Sequence[str], familiar: int, forms: Mapping[str, str] | None = None) -> None:
        """`words`: the lower-case words, most frequent first; `forms`: word -> its form, for those that have
        one other than the word itself."""
        if not words:
            raise ValueError("the seed-word list is empty")
        self._words = list(words)
        self._rank = {word: rank for rank, word in enumerate(self._words)}  # 0: the most frequent
        self._forms = {word: (forms or {}).get(word, word) for word in self._words}
        self._familiar = self._words[:familiar]

    @classmethod
    def from_file(cls, path: str | Path, familiar: int) -> SeedWords:
        words, forms = [], {}
        with open(path, encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                fields = [field.strip() for field in line.split("\t")]
                word = fields[0]
                if not word:
                    raise ValueError(f"{path}:{number}: empty seed word")
                if len(fields) > 2:
                    form = fields[2]
                    if form.lower() != word:
                        raise ValueError(f"{path}:{number}: the form {form!r} is not a casing of {word!r}")
                    forms[word] = form
                words.append(word)
        return cls(words, familiar, forms)

    def __len__(self) -> int:
        return len(self._words)

    def draw(self, rng: random.Random) -> str:
        return self._forms[rng.choice(self._familiar)]

    def closest(self, word: str) -> str:
        """`word` itself, as asked, when known (case-insensitively); else the form of the known word fewest edits
        away."""
        asked = word.strip()
        if asked.lower() in self._forms:
            return asked
        # extractOne keeps the first of equally close words, and the list is most frequent first.
        match, _distance, _index = process.extractOne(asked.lower(), self._words, scorer=Levenshtein.distance)
        return self._forms[match]

    def from_mention(self, words: Sequence[str]) -> tuple[str, str] | None:
        """(the word as said, the form of the seed word it maps to) for the rarest word of `words` that maps; None
        when none does."""
        best: tuple[int, str, str] | None = None
        for said in words:
            known = self._mapped(said.lower())
            if known is not None and (best is None or self._rank[known] > best[0]):
                best = (self._rank[known], said, known)
        return None if best is None else (best[1], self._forms[best[2]])

    def _mapped(self, word: str) -> str | None:
        if word in self._forms:
            return word
        limit = min(MAX_MENTION_EDITS, (len(word) - 1) // 3)  # 3 letters: none, 4-6: one, 7 and more: two
        if limit < 1:
            return None
        found = process.extractOne(word, self._words, scorer=Levenshtein.distance, score_cutoff=limit)
        return None if found is None else found[0]
