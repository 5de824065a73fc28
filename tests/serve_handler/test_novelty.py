"""The novelty check (serve_handler.novelty): normalization, index lookups, brute-force agreement, sentence-level
copies, the index file."""

import json
import random
import string
from pathlib import Path

import pytest
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from dataset.sentences import split_sentences as corpus_split_sentences
from serve_handler.novelty import (
    INDEX_MAGIC,
    MIN_SENTENCE_WORDS,
    Match,
    NoveltyIndex,
    checked_sentences,
    split_sentences,
)
from textrules.forms import novelty_form as normalize

JARGON = Path(__file__).resolve().parents[2] / "dataset" / "demo" / "jargon-4.4.7.jsonl"
LONG = (
    "The night operator patched the old mainframe by hand and then went home "
    "without telling anyone what he had changed."
)
ENGLISH = [
    LONG,
    "A kludge is a clever programming trick intended to solve a particular nasty case.",
    "Hackers often prefer to work late at night when the machines are quiet.",
]


def synthetic_corpus(rng: random.Random, size: int) -> list[str]:
    """Sentences of 5-20 pseudo-words drawn with Zipf-like frequencies, as in real text."""
    vocabulary = [
        "".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 9))) for _ in range(800)
    ]
    weights = [1 / rank for rank in range(1, len(vocabulary) + 1)]
    sentences = {
        " ".join(rng.choices(vocabulary, weights, k=rng.randint(5, 20))).capitalize() + "."
        for _ in range(size)
    }
    return sorted(sentences)


def edited_copy(text: str, rng: random.Random) -> str:
    """One or two word edits and a few typos, plus the changes normalization undoes."""
    words = text.rstrip(".").split()
    for _ in range(rng.randint(1, 2)):
        position = rng.randrange(len(words))
        edit = rng.choice(("replace", "insert", "delete"))
        if edit == "replace":
            words[position] = "zork"
        elif edit == "insert":
            words.insert(position, "quux")
        elif len(words) > 1:
            del words[position]
    chars = list(" ".join(words))
    for _ in range(rng.randint(0, 3)):
        chars[rng.randrange(len(chars))] = rng.choice(string.ascii_lowercase)
    return "  " + "".join(chars).upper() + " !"


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    return synthetic_corpus(random.Random(7), 3000) + ENGLISH


@pytest.fixture(scope="module")
def index(corpus: list[str]) -> NoveltyIndex:
    return NoveltyIndex.from_sentences(corpus)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  Hello,   World!  ", "hello, world"),
        ("\u201cQuoted.\u201d", "quoted"),
        ("(Aside...)", "aside"),
        ("STRASSE und Stra\u00dfe", "strasse und strasse"),
        ("\uff28\uff41\uff43\uff4b", "hack"),  # fullwidth letters (NFKC)
        ("tab\tand\nnewline", "tab and newline"),
        ("keeps inner, punctuation; here", "keeps inner, punctuation; here"),
        ("ends in an emoji \U0001f600", "ends in an emoji \U0001f600"),
        (" ?! ", ""),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_exact_copy_has_novelty_zero(index: NoveltyIndex) -> None:
    assert index.nearest(LONG) == Match(1.0, normalize(LONG))
    assert index.novelty(LONG) == 0.0


@pytest.mark.parametrize(
    "variant",
    [
        LONG.upper(),
        LONG.replace(" ", "   "),
        "\u201c" + LONG.rstrip(".") + "!\u201d",
        "  " + LONG.lower().replace("then", "\tthen") + "  ",
    ],
)
def test_copy_with_case_spacing_and_end_punctuation_changed_is_not_novel(
    index: NoveltyIndex, variant: str
) -> None:
    assert index.nearest(variant) == Match(1.0, normalize(LONG))


def test_one_word_changed_in_a_long_sentence_is_found(index: NoveltyIndex) -> None:
    candidate = LONG.replace("mainframe", "minicomputer")
    match = index.nearest(candidate)
    assert match.sentence == normalize(LONG)
    assert match.similarity == pytest.approx(Levenshtein.normalized_similarity(
        normalize(candidate), normalize(LONG)))
    assert match.similarity > 0.85


def test_unrelated_sentence_is_novel(index: NoveltyIndex) -> None:
    assert index.novelty("Quarterly tax forms must reach the office before the end of April.") > 0.5


def test_index_agrees_with_brute_force_on_near_duplicates(corpus: list[str]) -> None:
    rng = random.Random(11)
    index = NoveltyIndex.from_sentences(corpus)
    normalized = [normalize(sentence) for sentence in corpus]
    checked = 0
    for source in rng.sample(corpus, 400):
        candidate = edited_copy(source, rng)
        best = process.extractOne(
            normalize(candidate), normalized, scorer=Levenshtein.normalized_similarity
        )[1]
        if best < 0.75:
            continue  # a short sentence edited this much is no near-duplicate any more
        checked += 1
        assert index.nearest(candidate).similarity == pytest.approx(best, abs=1e-9), candidate
    assert checked >= 300  # most edited copies are near-duplicates: the check is not vacuous


def test_novelty_many_keeps_order(index: NoveltyIndex) -> None:
    unrelated = "Quarterly tax forms must reach the office before the end of April."
    assert index.novelty_many([LONG, unrelated, LONG]) == [0.0, index.novelty(unrelated), 0.0]


def test_empty_corpus_finds_nothing_and_everything_is_novel() -> None:
    index = NoveltyIndex.from_sentences(["", "  ...  "])  # nothing left after normalization
    assert len(index) == 0
    assert index.nearest("anything at all") == Match(0.0, None)
    assert index.novelty_many(["anything", "at all"]) == [1.0, 1.0]


@pytest.mark.parametrize("text", ["", "   ", "?!", "\u201c\u201d"])
def test_empty_candidate_is_refused(index: NoveltyIndex, text: str) -> None:
    with pytest.raises(ValueError, match="empty text"):
        index.novelty(text)


def test_duplicates_after_normalization_are_indexed_once() -> None:
    index = NoveltyIndex.from_sentences(["Same words here.", "same   WORDS here", "Other words."])
    assert len(index) == 2
    assert index.nearest("SAME WORDS HERE!") == Match(1.0, "same words here")


def test_from_file_reads_plain_lines_and_indexes_their_sentences(tmp_path) -> None:
    path = tmp_path / "train.txt"
    path.write_text("First training line.\n\nSecond training line here. And its second sentence.\n", encoding="utf-8")
    index = NoveltyIndex.from_file(path)
    assert len(index) == 4  # two lines, and the two sentences of the second
    assert index.nearest("second training line here") == Match(1.0, "second training line here")


def test_from_file_names_the_file_and_line_of_bad_utf8(tmp_path) -> None:
    path = tmp_path / "train.txt"
    path.write_bytes(b"fine line\nsecond line\nbad \xff byte\n")
    with pytest.raises(ValueError, match=r"train\.txt:3: not UTF-8 text"):
        NoveltyIndex.from_file(path)


# -- sentence level ---------------------------------------------------------------------------------------------------

MEMORIZED = ("The night operator patched the old mainframe by hand. It was late. He went home at dawn. Nobody "
             "knew what he had changed.")


@pytest.fixture(scope="module")
def lines_index(corpus: list[str]) -> NoveltyIndex:
    return NoveltyIndex.from_lines([*corpus, MEMORIZED])


def test_a_copied_first_sentence_of_a_long_line_is_caught(lines_index: NoveltyIndex) -> None:
    copy = "The night operator patched the old mainframe by hand. The users were delighted."
    assert 1 - lines_index.nearest(copy).similarity > 0.25  # against whole lines alone it would pass
    assert lines_index.novelty(copy) == 0.0
    assert lines_index.closest(copy) == Match(1.0, "the night operator patched the old mainframe by hand")


def test_a_new_text_with_the_same_words_is_novel(lines_index: NoveltyIndex) -> None:
    shuffled = "By hand, the old operator had patched the night mainframe. The users were delighted."
    assert lines_index.novelty(shuffled) > 0.4


def test_an_edited_copy_of_a_sentence_is_caught(lines_index: NoveltyIndex) -> None:
    copy = "The users were delighted. The night operator patched that old mainframe by hand!"
    assert lines_index.novelty(copy) < 0.1


@pytest.mark.parametrize(("copied", "caught"), [
    ("It was late.", False),  # three words: below MIN_SENTENCE_WORDS, a stock phrase
    ("He went home at dawn.", True),  # five words
])
def test_only_sentences_of_the_minimum_length_are_checked_alone(lines_index, copied: str, caught: bool) -> None:
    assert MIN_SENTENCE_WORDS == 5  # the parameters are written for it
    text = f"Our users never saw the change coming. {copied}"
    assert (lines_index.novelty(text) < 0.25) == caught
    assert lines_index.novelty(copied) == 0.0  # as a whole text, a short training sentence is still a copy


def test_novelty_is_the_minimum_over_the_whole_text_and_its_sentences(lines_index: NoveltyIndex) -> None:
    text = "Nobody expected the kernel to write poetry. Nobody knew what the hacker had changed."
    pieces = [text, *checked_sentences(text)]
    assert len(pieces) == 3
    expected = min(1 - lines_index.nearest(piece).similarity for piece in pieces)
    assert lines_index.novelty(text) == pytest.approx(expected)
    assert 0 < expected < 1 - lines_index.nearest(text).similarity


def test_checked_sentences() -> None:
    assert checked_sentences("One sentence only, but long enough to count.") == []  # the whole text covers it
    assert checked_sentences("Short one. This one has five words. And this one has six words.") == [
        "This one has five words.", "And this one has six words."]


def test_the_worker_splits_like_the_corpus_build() -> None:
    """The worker splits candidates with the splitter the corpus build and the archive use (textrules.sentences)."""
    definitions = [json.loads(line)["definition"] for line in JARGON.read_text(encoding="utf-8").splitlines()]
    tricky = ["See Dr. Jones. Then go.", "It is 3.14 wide. 2. To the end.", 'He said "no." Then left.',
              "wait... what? Yes! (Really.) Fine", "J. Random Hacker wrote it. e.g. this. Done."]
    differing = [text for text in definitions + tricky if split_sentences(text) != corpus_split_sentences(text)]
    assert not differing
    assert sum(len(split_sentences(text)) > 1 for text in definitions) > 1000  # the comparison is not vacuous


# -- the index file ---------------------------------------------------------------------------------------------------


def test_the_index_file_loads_the_same_index(lines_index: NoveltyIndex, corpus: list[str], tmp_path) -> None:
    path = tmp_path / "novelty.txt"
    path.write_text(lines_index.to_text(), encoding="utf-8")
    loaded = NoveltyIndex.from_file(path)
    assert len(loaded) == len(lines_index)
    rng = random.Random(3)
    candidates = [edited_copy(source, rng) for source in rng.sample(corpus, 100)] + [
        "The night operator patched the old mainframe by hand. The users were delighted.",
        "Quarterly tax forms must reach the office before the end of April."]
    assert [loaded.closest(text) for text in candidates] == [lines_index.closest(text) for text in candidates]


def test_the_index_file_is_plain_text_with_a_header(lines_index: NoveltyIndex) -> None:
    rows = lines_index.to_text().splitlines()
    magic, version, texts, shingles = rows[0].split(" ")
    assert (magic, version) == (INDEX_MAGIC, "1") and int(texts) == len(lines_index)
    assert len(rows) == 1 + int(texts) + int(shingles)
    assert normalize(MEMORIZED) in rows and "nobody knew what he had changed" in rows
    assert all(row.count("\t") == 1 for row in rows[1 + int(texts):])


@pytest.mark.parametrize(("text", "message"), [
    (f"{INDEX_MAGIC} 2 1 0\nhello\n", "not a format 1 novelty index header"),
    (f"{INDEX_MAGIC} 1 2 1\nhello\n^ hello\t0\n", "promises 2 texts and 1 shingles, the file has 2 lines"),
    (f"{INDEX_MAGIC} 1 1 1\nhello\n^ hello 0\n", "a shingle line without exactly one tab"),
])
def test_a_broken_index_file_is_refused_naming_it(tmp_path, text: str, message: str) -> None:
    path = tmp_path / "novelty.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message) as caught:
        NoveltyIndex.from_file(path)
    assert str(path) in str(caught.value)
