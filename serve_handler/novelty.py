"""Novelty check: how far a generated text is from the training corpus, line by line and sentence by sentence.

Contract:
    index = NoveltyIndex.from_file(path)                 # an index file (below) or a plain train.txt
    index = NoveltyIndex.from_lines(train_lines)         # the lines and all their sentences
    index = NoveltyIndex.from_sentences(texts)           # exactly these texts
    index.nearest(text)  -> Match(similarity, text)      the nearest indexed text to the whole text, in [0, 1]
    index.closest(text)  -> Match                        the nearest to the whole text or to any of its sentences
                                                         of at least MIN_SENTENCE_WORDS words
    index.novelty(text)  -> 1 - closest(text).similarity: the minimum over the whole text's novelty and its
                            long-enough sentences' novelties
    index.novelty_many(texts) -> list of novelties, in order
    index.to_text()      -> the index file's text; from_file reads it back

What is indexed (`from_lines`): every training line, and every sentence of every line (split by the corpus build's
own splitter, `textrules.sentences.split_sentences`), each kept once after normalization. So a candidate that copies
one sentence of a long line is caught: against the whole line it looks 60 % new, against that sentence it is a copy.
Training sentences of any length are indexed (a whole candidate that is one short training sentence is a copy too);
on the candidate's side only sentences of at least MIN_SENTENCE_WORDS words are looked up on their own, since a
short common sentence ("See also hacker.") inside a new text does not make it a copy. The whole text is always
looked up. One index over lines and sentences: a whole text near one training sentence, or a candidate sentence near
a one-sentence line, is a copy either way.

The index file (`lorecast archive` writes it as the .mar's novelty.txt, layout.py), plain UTF-8 text, built at
archive time so that the worker only reads it:
    lorecast-novelty-index 1 TEXTS SHINGLES      header: format version, then the two counts
    TEXTS lines                                  the indexed texts, normalized and distinct; a text's id is its row
    SHINGLES lines                               "shingle<TAB>id id id": the ids (ascending) of the texts with it
Loading it parses no ids: a postings list stays a string until a candidate probes it. 100k texts load in about
0.3 s, against about 2.5 s to build the index from plain lines (benchmarks/novelty_bench.py). A file without the
header is read as plain training lines, one a line, and indexed at load (from_lines): a corpus dir's train.txt,
as `lorecast train sample` and the tests use it. It needs only rapidfuzz + stdlib.

Normalization (both sides, before indexing and comparing): `textrules.forms.novelty_form`:
    NFKC, casefold, every run of whitespace -> one space, punctuation (and spaces) stripped at both
    ends. A generation cut at a sentence end differs from its training line in exactly these ways
    (final full stop, quotes, capitalisation, spacing, compatibility forms such as fullwidth
    letters), and none of them makes the text new. Inner punctuation is kept: it is content, and
    a mark costs one edit, which is negligible. A Match names the indexed text in this normal form.

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
from textrules.sentences import split_sentences

# A candidate's sentence is looked up on its own from this many words (\w+ runs) on: shorter ones are the
# stock phrases any text repeats ("See also hacker.", "This is a bug.").
MIN_SENTENCE_WORDS = 5
INDEX_MAGIC = "lorecast-novelty-index"
INDEX_FORMAT = 1

_WORD = re.compile(r"\w+")


def checked_sentences(text: str) -> list[str]:
    """The sentences of a candidate that are looked up on their own: those of at least MIN_SENTENCE_WORDS
    words; none when the text is a single sentence (the whole-text lookup is that sentence's)."""
    sentences = split_sentences(text)
    if len(sentences) < 2:
        return []
    return [sentence for sentence in sentences if len(_WORD.findall(sentence)) >= MIN_SENTENCE_WORDS]


def training_texts(lines: Iterable[str]) -> list[str]:
    """Every line, then every sentence of every line, as `from_lines` indexes them."""
    lines = list(lines)
    return lines + [sentence for line in lines for sentence in split_sentences(line)]


def _shingles(norm: str) -> set[str]:
    """Word bigrams of a normalized text, with its start and end as words of their own."""
    words = _WORD.findall(norm)
    return set(map(" ".join, zip(["^", *words], [*words, "$"])))


def _count(ids: str) -> int:
    """How many ids a postings string ("3 17 52") holds."""
    return ids.count(" ") + 1


class Match(NamedTuple):
    """The nearest indexed text found (in its normal form) and its similarity."""

    similarity: float
    sentence: str | None


class NoveltyIndex:
    """Nearest-training-text lookup by normalized Levenshtein similarity, via a bigram index."""

    def __init__(
        self,
        sentences: Iterable[str],
        *,
        probes: int = 8,
        shortlist: int = 32,
        common_cap: int | None = None,
    ) -> None:
        normalized: dict[str, None] = {}
        for sentence in sentences:
            norm = novelty_form(sentence)
            if norm:  # empty: nothing to compare with; a duplicate adds nothing
                normalized.setdefault(norm, None)
        postings: defaultdict[str, list[int]] = defaultdict(list)
        for text_id, norm in enumerate(normalized):
            for shingle in _shingles(norm):
                postings[shingle].append(text_id)
        # Postings as strings of ids, the form the index file stores and loading keeps.
        joined = {shingle: " ".join(map(str, ids)) for shingle, ids in postings.items()}
        self._setup(list(normalized), joined, probes, shortlist, common_cap)

    def _setup(self, normalized: list[str], postings: dict[str, str], probes: int, shortlist: int,
               common_cap: int | None) -> None:
        self._probes = probes
        self._shortlist_size = shortlist
        self._normalized = normalized
        self._exact = {norm: text_id for text_id, norm in enumerate(normalized)}
        # A plain dict, so that looking up an unknown shingle does not insert it.
        self._postings = postings
        self._lengths = [len(norm) for norm in normalized]
        # Default: a shingle in more than 1% of the texts (at least 256) is too common to probe.
        self._common_cap = common_cap if common_cap is not None else max(256, len(normalized) // 100)

    @classmethod
    def from_sentences(cls, sentences: Iterable[str], **options: int) -> NoveltyIndex:
        """Exactly these texts (each normalized, empty and repeated ones dropped)."""
        return cls(sentences, **options)

    @classmethod
    def from_lines(cls, lines: Iterable[str], **options: int) -> NoveltyIndex:
        """Training lines and every sentence of them (`training_texts`)."""
        return cls(training_texts(lines), **options)

    @classmethod
    def from_file(cls, path: str | Path, **options: int) -> NoveltyIndex:
        """An index file (`to_text`), or else plain training lines, UTF-8, one a line (a corpus dir's train.txt;
        empty lines are ignored), indexed with their sentences (`from_lines`)."""
        data = Path(path).read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            line = data[: error.start].count(b"\n") + 1
            raise ValueError(f"{path}:{line}: not UTF-8 text ({error.reason})") from None
        if text.startswith(INDEX_MAGIC + " "):
            return cls._read_index(path, text, **options)
        return cls.from_lines(text.split("\n"), **options)

    @classmethod
    def _read_index(cls, path: str | Path, text: str, *, probes: int = 8, shortlist: int = 32,
                    common_cap: int | None = None) -> NoveltyIndex:
        lines = text.split("\n")
        header = lines[0].split(" ")
        if len(header) != 4 or header[1] != str(INDEX_FORMAT) or not (header[2] + header[3]).isdigit():
            raise ValueError(f"{path}:1: not a format {INDEX_FORMAT} novelty index header: {lines[0]!r}")
        texts, shingles = int(header[2]), int(header[3])
        body = lines[1:]
        if body and body[-1] == "":
            body.pop()  # the final newline
        if len(body) != texts + shingles:
            raise ValueError(f"{path}: the header promises {texts} texts and {shingles} shingles, "
                             f"the file has {len(body)} lines after it")
        try:
            postings = dict(line.split("\t") for line in body[texts:])
        except ValueError:
            raise ValueError(f"{path}: a shingle line without exactly one tab") from None
        index = cls.__new__(cls)
        index._setup(body[:texts], postings, probes, shortlist, common_cap)
        return index

    def to_text(self) -> str:
        """The index file (module docstring): what `from_file` loads without rebuilding anything."""
        header = f"{INDEX_MAGIC} {INDEX_FORMAT} {len(self._normalized)} {len(self._postings)}"
        postings = (f"{shingle}\t{ids}" for shingle, ids in self._postings.items())
        return "\n".join([header, *self._normalized, *postings]) + "\n"

    def __len__(self) -> int:
        """Number of distinct (after normalization) texts indexed."""
        return len(self._normalized)

    def nearest(self, text: str) -> Match:
        """The indexed text most similar to the whole of `text`; (0.0, None) for an empty index or nothing shared.

        Raises ValueError for a text that is empty after normalization: it has no meaningful
        novelty, and the handler's length filter must have rejected it before.
        """
        norm = novelty_form(text)
        if not norm:
            raise ValueError(f"cannot check the novelty of an empty text: {text!r}")
        exact_id = self._exact.get(norm)
        if exact_id is not None:
            return Match(1.0, norm)
        shortlist = self._shortlist(norm)
        if not shortlist:
            return Match(0.0, None)
        choices = [self._normalized[text_id] for text_id in shortlist]
        _, similarity, position = process.extractOne(
            norm, choices, scorer=Levenshtein.normalized_similarity
        )
        return Match(similarity, choices[position])

    def closest(self, text: str) -> Match:
        """The best `nearest` match of the whole text and of each of its `checked_sentences`."""
        best = self.nearest(text)
        for sentence in checked_sentences(text):
            if best.similarity == 1.0:
                break
            match = self.nearest(sentence)
            if match.similarity > best.similarity:
                best = match
        return best

    def novelty(self, text: str) -> float:
        """1 - `closest` similarity: the lowest novelty of the whole text and of its long-enough sentences;
        0.0 when it (or one of them) is a copy, 1.0 when nothing matched."""
        return 1.0 - self.closest(text).similarity

    def novelty_many(self, texts: Iterable[str]) -> list[float]:
        """`novelty` of each text, in order (the handler checks a whole batch of candidates)."""
        return [self.novelty(text) for text in texts]

    def _shortlist(self, norm: str) -> list[int]:
        """Ids of the texts sharing the most of the candidate's rarest shingles."""
        known = sorted((ids for ids in map(self._postings.get, _shingles(norm)) if ids), key=_count)
        # Only common shingles known: probe the rarest of them rather than give up.
        probed = [ids for ids in known[: self._probes] if _count(ids) <= self._common_cap] or known[:1]
        shared: Counter[int] = Counter()
        for ids in probed:
            shared.update(map(int, ids.split(" ")))
        # C-level key: thousands of ids get counted, a Python key per id would dominate the cost.
        ranked = sorted(shared, key=shared.__getitem__, reverse=True)
        size = self._shortlist_size
        if len(ranked) <= size or shared[ranked[size - 1]] < shared[ranked[0]]:
            return ranked[:size]
        # More texts share the top count than the shortlist holds (typically a short candidate of common
        # words): keep those closest in length, the likeliest near-copies.
        lengths, length = self._lengths, len(norm)
        return heapq.nsmallest(
            size,
            ranked[: countOf(shared.values(), shared[ranked[0]])],
            key=lambda text_id: abs(lengths[text_id] - length),
        )
