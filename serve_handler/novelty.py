"""Novelty check: how far a generated text is from its nearest training sentence.

Contract:
    index = NoveltyIndex.from_file("train.txt")      # UTF-8, one sentence per line
    index = NoveltyIndex.from_sentences(list_of_str)   # same, from memory
    index.nearest(text)  -> Match(similarity, sentence)   similarity in [0, 1]
    index.novelty(text)  -> 1 - similarity
    index.novelty_many(texts) -> list of novelties, in order

The index is built at load time from plain text (no pickles in the .mar); 100k sentences take
about 1-2 s on one core (see benchmarks/novelty_bench.py). It needs only rapidfuzz + stdlib.

Normalization (both sides, before indexing and comparing): `textrules.forms.novelty_form`:
    NFKC, casefold, every run of whitespace -> one space, punctuation (and spaces) stripped at both
    ends. A generation cut at a sentence end differs from its training line in exactly these ways
    (final full stop, quotes, capitalisation, spacing, compatibility forms such as fullwidth
    letters), and none of them makes the text new. Inner punctuation is kept: it is content, and
    a mark costs one edit, which is negligible.

Similarity is rapidfuzz's normalized *Levenshtein* similarity, 1 - distance / max(len(a), len(b)):
"the fraction of characters that need no edit". Indel similarity (what fuzz.ratio uses) counts a
substitution as two edits over the summed length and rewards any common subsequence, which
squeezes the scale: on the benchmark corpus unrelated pairs score 0.34 with Indel and 0.21 with
Levenshtein, near-copies 0.92 and 0.87. Levenshtein leaves the wider gap, so a threshold is
easier to set.

How the index finds the nearest sentence, and when it can miss it:
    Shingles are the word bigrams of the normalized text (words are \\w+ runs, punctuation
    ignored), with its start and end counted as words, so a one-word sentence has two. An
    inverted index maps each shingle to the ids of the sentences that contain it. A candidate
    probes only its rarest known shingles (at most `probes`, skipping those found in more than
    `common_cap` sentences, 1% by default: such postings lists are long and say little; if all
    are that common, the rarest one is probed anyway), counts for each sentence how many probed
    shingles it shares, keeps the top `shortlist` sentences (if more than that tie at the top
    count: those closest in length) and scores only those with rapidfuzz. Exact copies are found
    by a dict lookup before any of this. Bigrams rather than single words: a near-copy keeps
    most of its word pairs while sentences that merely share vocabulary rarely share them, so
    the true source ranks first even when the rare words are the ones that were edited.

    The shortlist is a heuristic: it misses the true nearest sentence when that sentence shares
    few of the candidate's rarest bigrams, i.e. when most word pairs were changed, or when many
    sentences share as many. That is harmless here: the check only has to be right when the
    similarity is high, and an edit of one word destroys at most two bigrams, so a near-copy
    keeps most of them and ranks at the top. The weak spots are very short candidates (few
    bigrams to go on) and texts without any word character (their only shingle is "^ $"); the
    handler's length filter rejects such candidates first anyway. A candidate that shares no
    shingle with any sentence gets similarity 0.0 and no sentence.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from operator import countOf
from pathlib import Path
from typing import NamedTuple

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from textrules.forms import novelty_form

_WORD = re.compile(r"\w+")


def _shingles(norm: str) -> set[str]:
    """Word bigrams of a normalized text, with its start and end as words of their own."""
    words = _WORD.findall(norm)
    return set(map(" ".join, zip(["^", *words], [*words, "$"])))


class Match(NamedTuple):
    """The nearest training sentence found (as written in the corpus) and its similarity."""

    similarity: float
    sentence: str | None


class NoveltyIndex:
    """Nearest-training-sentence lookup by normalized Levenshtein similarity, via a bigram index."""

    def __init__(
        self,
        sentences: Iterable[str],
        *,
        probes: int = 8,
        shortlist: int = 32,
        common_cap: int | None = None,
    ) -> None:
        self._probes = probes
        self._shortlist_size = shortlist
        self._originals: list[str] = []
        self._normalized: list[str] = []
        self._exact: dict[str, int] = {}
        postings: defaultdict[str, list[int]] = defaultdict(list)
        for sentence in sentences:
            norm = novelty_form(sentence)
            if not norm or norm in self._exact:
                continue  # nothing to compare with / already indexed: duplicates add nothing
            sentence_id = len(self._normalized)
            self._exact[norm] = sentence_id
            self._normalized.append(norm)
            self._originals.append(sentence)
            for shingle in _shingles(norm):
                postings[shingle].append(sentence_id)
        # A plain dict, so that looking up an unknown shingle does not insert it; tuples because
        # the index is frozen now and most postings hold one id (a tuple: about half the bytes).
        self._postings: dict[str, tuple[int, ...]] = {
            shingle: tuple(ids) for shingle, ids in postings.items()
        }
        self._lengths = [len(norm) for norm in self._normalized]
        # Default: a shingle in more than 1% of the sentences (at least 256) is too common to probe.
        self._common_cap = common_cap if common_cap is not None else max(256, len(self) // 100)

    @classmethod
    def from_sentences(cls, sentences: Iterable[str], **options: int) -> NoveltyIndex:
        return cls(sentences, **options)

    @classmethod
    def from_file(cls, path: str | Path, **options: int) -> NoveltyIndex:
        """One sentence per line, UTF-8 (the corpus dir's train.txt); empty lines are ignored."""
        data = Path(path).read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            line = data[: error.start].count(b"\n") + 1
            raise ValueError(f"{path}:{line}: not UTF-8 text ({error.reason})") from None
        return cls(text.split("\n"), **options)

    def __len__(self) -> int:
        """Number of distinct (after normalization) training sentences indexed."""
        return len(self._normalized)

    def nearest(self, text: str) -> Match:
        """The most similar training sentence; (0.0, None) for an empty index or nothing shared.

        Raises ValueError for a text that is empty after normalization: it has no meaningful
        novelty, and the handler's length filter must have rejected it before.
        """
        norm = novelty_form(text)
        if not norm:
            raise ValueError(f"cannot check the novelty of an empty text: {text!r}")
        exact_id = self._exact.get(norm)
        if exact_id is not None:
            return Match(1.0, self._originals[exact_id])
        shortlist = self._shortlist(norm)
        if not shortlist:
            return Match(0.0, None)
        choices = [self._normalized[sentence_id] for sentence_id in shortlist]
        _, similarity, position = process.extractOne(
            norm, choices, scorer=Levenshtein.normalized_similarity
        )
        return Match(similarity, self._originals[shortlist[position]])

    def novelty(self, text: str) -> float:
        """1 - similarity to the nearest training sentence: 0.0 for a copy, 1.0 for no match."""
        return 1.0 - self.nearest(text).similarity

    def novelty_many(self, texts: Iterable[str]) -> list[float]:
        """`novelty` of each text, in order (the handler checks a whole batch of candidates)."""
        return [self.novelty(text) for text in texts]

    def _shortlist(self, norm: str) -> list[int]:
        """Ids of the sentences sharing the most of the candidate's rarest shingles."""
        known = sorted((ids for ids in map(self._postings.get, _shingles(norm)) if ids), key=len)
        # Only common shingles known: probe the rarest of them rather than give up.
        probed = [ids for ids in known[: self._probes] if len(ids) <= self._common_cap] or known[:1]
        shared: Counter[int] = Counter()
        for ids in probed:
            shared.update(ids)
        # C-level key: thousands of ids get counted, a Python key per id would dominate the cost.
        ranked = sorted(shared, key=shared.__getitem__, reverse=True)
        size = self._shortlist_size
        if len(ranked) <= size or shared[ranked[size - 1]] < shared[ranked[0]]:
            return ranked[:size]
        # More sentences share the top count than the shortlist holds (typically a short
        # candidate of common words): keep those closest in length, the likeliest near-copies.
        lengths, length = self._lengths, len(norm)
        return heapq.nsmallest(
            size,
            ranked[: countOf(shared.values(), shared[ranked[0]])],
            key=lambda sentence_id: abs(lengths[sentence_id] - length),
        )
