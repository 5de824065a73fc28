"""Seed words (dataset.seed_words): tokens, filters, counts, forms and order; words.txt read old and new."""

import pytest

from dataset.corpus import SeedWord, content_hash, load_corpus
from dataset.corpus_writer import write_corpus
from dataset.seed_words import STOPWORDS, count_seed_words, tokens_of, words_of
from lorecast.errors import LorecastError


def counts(words: list[SeedWord]) -> list[tuple[str, int]]:
    return [(word.word, word.count) for word in words]


def forms(lines: list[str]) -> dict[str, str]:
    return {word.word: word.form for word in count_seed_words(lines, min_count=1)}


def test_words_are_lowercase_letter_runs_with_inner_apostrophes():
    assert words_of("The Hacker's kludge: don't RTFM, x86 C++ na\u00efve caf\u00e9.") == [
        "the",
        "hacker",
        "kludge",
        "don't",
        "rtfm",
        "x",
        "c",
        "na\u00efve",
        "caf\u00e9",
    ]


def test_tokens_keep_their_casing_and_lose_a_possessive_in_any_case():
    assert tokens_of("The HACKER'S Wizard\u2019s RTFM") == ["The", "HACKER", "Wizard", "RTFM"]


def test_curly_apostrophes_count_as_straight_ones():
    assert words_of("Wizard\u2019s don\u2019t") == ["wizard", "don't"]


def test_conversation_tags_and_urls_are_not_words():
    assert words_of("<|sor|>see https://example.com/path and www.example.org<|eor|>") == ["see", "and"]


def test_counts_skip_short_words_and_stopwords_and_honour_min_count():
    lines = ["The kludge and the kludge.", "A kludge? No, a hack. Hack on!", "Ox ox ox hack"]
    assert counts(count_seed_words(lines, min_count=1)) == [("hack", 3), ("kludge", 3)]
    assert count_seed_words(lines, min_count=4) == []
    assert {"the", "and"} <= STOPWORDS


def test_order_is_count_descending_then_word():
    lines = ["zebra apple mango", "mango zebra", "mango"]
    assert counts(count_seed_words(lines, min_count=1)) == [("mango", 3), ("zebra", 2), ("apple", 1)]


def test_titles_in_examples_count_like_any_word():
    lines = ["Moonlight Greatsword: A sword of the moon.", "Moonlight glows."]
    assert SeedWord("moonlight", 2, "Moonlight") in count_seed_words(lines, min_count=2)


def test_the_form_is_the_casing_most_common_at_the_start_of_a_line():
    # "kernel" is written lower-case more often, but lines that start with it write "Kernel".
    lines = ["Kernel: the core.", "Kernel panic.", "the kernel and the kernel and the kernel.", "A Kernel."]
    assert forms(lines)["kernel"] == "Kernel"


def test_the_start_of_a_line_is_its_first_word_after_tags_and_urls():
    lines = ["<|sor|>Daemon at work", "https://x.org Wizard ran", "a daemon, a wizard", "a daemon, a wizard"]
    assert (forms(lines)["daemon"], forms(lines)["wizard"]) == ("Daemon", "Wizard")
    # A lower-case headword opening its lines stays lower-case, however often it is capitalized elsewhere.
    assert forms(["grep: search.", "grep: again.", "use Grep. Grep! Grep?"])["grep"] == "grep"


def test_a_word_that_never_starts_a_line_keeps_its_most_common_casing_anywhere():
    lines = ["The Unix way.", "on Unix and unix, on UNIX and Unix.", "the lantern, the Lantern, the lantern."]
    assert forms(lines)["unix"] == "Unix" and forms(lines)["lantern"] == "lantern"


def test_ties_go_to_the_casing_more_common_anywhere_then_to_the_one_seen_first():
    assert forms(["Mango here.", "MANGO there.", "and Mango"])["mango"] == "Mango"  # 1-1 at starts, 2-1 anywhere
    assert forms(["Zebra here.", "ZEBRA there."])["zebra"] == "Zebra"
    assert forms(["ZEBRA there.", "Zebra here."])["zebra"] == "ZEBRA"


def write(tmp_path, words_text: str):
    directory = tmp_path / "corpus"
    directory.mkdir()
    for name, text in {"train.txt": "a line\n", "test.txt": "a test\n", "meta.json": "{}",
                       "words.txt": words_text}.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


def test_words_txt_of_three_columns_is_read_with_its_forms(tmp_path):
    corpus = load_corpus(write(tmp_path, "kernel\t5\tKernel\nunix\t3\tUNIX\n"))
    assert corpus.seed_words == [SeedWord("kernel", 5, "Kernel"), SeedWord("unix", 3, "UNIX")]
    assert corpus.words == [("kernel", 5), ("unix", 3)]  # the pairs, for readers that need no forms


def test_an_old_two_column_words_txt_still_reads_and_keeps_its_hash(tmp_path):
    corpus = load_corpus(write(tmp_path, "kernel\t5\nunix\t3\n"))
    assert corpus.seed_words == [SeedWord("kernel", 5, None), SeedWord("unix", 3, None)]
    assert corpus.content_hash == content_hash(["a line"], ["a test"], [("kernel", 5), ("unix", 3)])


@pytest.mark.parametrize("line, problem", [
    ("kernel\t5\tDaemon", "the form 'Daemon' is not a casing of 'kernel'"),
    ("kernel\t5\t", "expected 'word<TAB>count\\[<TAB>form\\]'"),
    ("kernel\t5\tKernel\textra", "expected 'word<TAB>count\\[<TAB>form\\]'"),
    ("kernel", "expected 'word<TAB>count\\[<TAB>form\\]'"),
])
def test_a_bad_words_line_names_its_line(tmp_path, line, problem):
    with pytest.raises(LorecastError, match=rf"words.txt:2: {problem}"):
        load_corpus(write(tmp_path, f"unix\t3\tUnix\n{line}\n"))


def test_forms_are_written_and_hashed_so_the_same_lines_give_the_same_bytes(tmp_path):
    words = count_seed_words(["Kernel panic.", "the kernel"], min_count=1)
    write_corpus(tmp_path / "a", ["x"], ["y"], words, {})
    write_corpus(tmp_path / "b", ["x"], ["y"], count_seed_words(["Kernel panic.", "the kernel"], 1), {})
    written = (tmp_path / "a" / "words.txt").read_bytes()
    assert written == b"kernel\t2\tKernel\npanic\t1\tpanic\n" == (tmp_path / "b" / "words.txt").read_bytes()
    assert load_corpus(tmp_path / "a").seed_words == words
    # The form is part of the corpus: another casing is another corpus.
    recased = [word._replace(form=word.word) for word in words]
    assert content_hash(["x"], ["y"], words) != content_hash(["x"], ["y"], recased)
