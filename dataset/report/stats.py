"""The numbers of the inspect report, in pure Python (no matplotlib, no NLTK, no downloads).

Definitions, so that two reports compare:
  word       a run of letters/digits/underscore, with inner apostrophes kept ("don't"), lowercased;
             the same tokenizer counts lengths, top words, type/token ratios and n-grams
  length     per example (one line): words as above, and characters (len of the line)
  p90        linear interpolation between closest ranks (numpy's default)
  TTR        distinct words / words, over all examples' words in order
  MATTR      the mean TTR over every window of MATTR_WINDOW consecutive words; unlike TTR it does
             not fall as the text grows, so a 50-line sample and a 10k-line corpus compare.
             With fewer words than one window it is the plain TTR.
  overlap    for n = 1..4: the share of the candidate lines' n-grams (counted with repeats, never
             across a line end) that occur anywhere in the training lines
  verbatim   the share of candidate lines equal to some training line, whitespace collapsed (a
             memorization signal)

Everything is linear in the input size (one pass per side, sets and counters), so a corpus of
tens of thousands of examples takes well under a second.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass

from dataset.stopwords import STOPWORDS

MATTR_WINDOW = 100
MAX_N = 4
TOP_WORDS = 20
VERBATIM_EXAMPLES = 10

_WORD = re.compile(r"\w+(?:['’]\w+)*")


@dataclass(frozen=True)
class LengthStats:
    mean: float
    median: float
    p90: float
    max: int


@dataclass(frozen=True)
class TextStats:
    """What the report shows about one side (the corpus, or the generated text)."""

    examples: int
    word_counts: list[int]
    char_counts: list[int]
    words: LengthStats
    chars: LengthStats
    tokens: int
    types: int
    ttr: float | None
    mattr: float | None
    top_words: list[tuple[str, int]]


@dataclass(frozen=True)
class OverlapStats:
    """How much of a candidate text (generated, or the held-out test set) occurs in training."""

    lines: int
    ngram_share: dict[int, float | None]  # None: no line has n words
    verbatim_lines: int
    verbatim_examples: list[str]  # the first few copied lines, in candidate order

    @property
    def verbatim_share(self) -> float:
        return self.verbatim_lines / self.lines if self.lines else 0.0


def tokenize(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation between the two closest ranks."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def length_stats(values: list[int]) -> LengthStats:
    return LengthStats(
        mean=statistics.fmean(values),
        median=statistics.median(values),
        p90=percentile(values, 90),
        max=max(values),
    )


def type_token_ratio(tokens: list[str]) -> float | None:
    return len(set(tokens)) / len(tokens) if tokens else None


def moving_average_ttr(tokens: list[str], window: int = MATTR_WINDOW) -> float | None:
    """MATTR: the mean TTR of every `window`-word slice, kept linear with a sliding counter."""
    if len(tokens) <= window:
        return type_token_ratio(tokens)
    counts = Counter(tokens[:window])
    distinct = len(counts)
    distinct_sum = distinct
    for leaving, entering in zip(tokens, tokens[window:]):
        counts[leaving] -= 1
        if counts[leaving] == 0:
            distinct -= 1
        if counts[entering] == 0:
            distinct += 1
        counts[entering] += 1
        distinct_sum += distinct
    windows = len(tokens) - window + 1
    return distinct_sum / windows / window


def top_words(tokens: list[str], k: int = TOP_WORDS) -> list[tuple[str, int]]:
    """The k most frequent words outside STOPWORDS; ties keep first-seen order."""
    return Counter(t for t in tokens if t not in STOPWORDS).most_common(k)


def describe(texts: list[str]) -> TextStats:
    """Lengths, vocabulary and top words of a non-empty list of examples."""
    if not texts:
        raise ValueError("describe() needs at least one text")
    per_text = [tokenize(text) for text in texts]
    tokens = [token for words in per_text for token in words]
    word_counts = [len(words) for words in per_text]
    char_counts = [len(text) for text in texts]
    return TextStats(
        examples=len(texts),
        word_counts=word_counts,
        char_counts=char_counts,
        words=length_stats(word_counts),
        chars=length_stats(char_counts),
        tokens=len(tokens),
        types=len(set(tokens)),
        ttr=type_token_ratio(tokens),
        mattr=moving_average_ttr(tokens),
        top_words=top_words(tokens),
    )


def _ngrams(tokens: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def _collapse_spaces(line: str) -> str:
    return " ".join(line.split())


def ngram_overlap(candidates: list[str], training: list[str], max_n: int = MAX_N) -> OverlapStats:
    """Share of the candidates' n-grams (n = 1..max_n) and whole lines that occur in training.

    Only the candidates' n-grams are held in memory; training is streamed once against them.
    """
    candidate_tokens = [tokenize(line) for line in candidates]
    wanted = {n: {g for tokens in candidate_tokens for g in _ngrams(tokens, n)} for n in range(1, max_n + 1)}
    found: dict[int, set[tuple[str, ...]]] = {n: set() for n in wanted}
    for line in training:
        tokens = tokenize(line)
        for n, grams in wanted.items():
            found[n].update(g for g in _ngrams(tokens, n) if g in grams)

    shares: dict[int, float | None] = {}
    for n in wanted:
        occurrences = [g for tokens in candidate_tokens for g in _ngrams(tokens, n)]
        hits = sum(1 for g in occurrences if g in found[n])
        shares[n] = hits / len(occurrences) if occurrences else None

    training_lines = {_collapse_spaces(line) for line in training}
    copies = [line for line in candidates if _collapse_spaces(line) in training_lines]
    return OverlapStats(
        lines=len(candidates),
        ngram_share=shares,
        verbatim_lines=len(copies),
        verbatim_examples=copies[:VERBATIM_EXAMPLES],
    )
