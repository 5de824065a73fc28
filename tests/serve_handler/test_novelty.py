"""The novelty check (serve_handler.novelty): normalization, index lookups, brute-force agreement."""

import random
import string

import pytest
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from serve_handler.novelty import Match, NoveltyIndex
from textrules.forms import novelty_form as normalize

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
    assert index.nearest(LONG) == Match(1.0, LONG)
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
    assert index.nearest(variant) == Match(1.0, LONG)


def test_one_word_changed_in_a_long_sentence_is_found(index: NoveltyIndex) -> None:
    candidate = LONG.replace("mainframe", "minicomputer")
    match = index.nearest(candidate)
    assert match.sentence == LONG
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
    assert index.nearest("SAME WORDS HERE!") == Match(1.0, "Same words here.")


def test_from_file_reads_one_sentence_per_line(tmp_path) -> None:
    path = tmp_path / "train.txt"
    path.write_text("First training line.\n\nSecond training line here.\n", encoding="utf-8")
    index = NoveltyIndex.from_file(path)
    assert len(index) == 2
    assert index.nearest("second training line here") == Match(1.0, "Second training line here.")


def test_from_file_names_the_file_and_line_of_bad_utf8(tmp_path) -> None:
    path = tmp_path / "train.txt"
    path.write_bytes(b"fine line\nsecond line\nbad \xff byte\n")
    with pytest.raises(ValueError, match=r"train\.txt:3: not UTF-8 text"):
        NoveltyIndex.from_file(path)
