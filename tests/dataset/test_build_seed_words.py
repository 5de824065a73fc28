"""Seed words (dataset.seed_words): tokens, filters, counts and order."""

from dataset.seed_words import STOPWORDS, count_seed_words, words_of


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


def test_curly_apostrophes_count_as_straight_ones():
    assert words_of("Wizard\u2019s don\u2019t") == ["wizard", "don't"]


def test_conversation_tags_and_urls_are_not_words():
    assert words_of("<|sor|>see https://example.com/path and www.example.org<|eor|>") == ["see", "and"]


def test_counts_skip_short_words_and_stopwords_and_honour_min_count():
    lines = ["The kludge and the kludge.", "A kludge? No, a hack. Hack on!", "Ox ox ox hack"]
    assert count_seed_words(lines, min_count=1) == [("hack", 3), ("kludge", 3)]
    assert count_seed_words(lines, min_count=4) == []
    assert {"the", "and"} <= STOPWORDS


def test_order_is_count_descending_then_word():
    lines = ["zebra apple mango", "mango zebra", "mango"]
    assert count_seed_words(lines, min_count=1) == [("mango", 3), ("zebra", 2), ("apple", 1)]


def test_titles_in_examples_count_like_any_word():
    lines = ["Moonlight Greatsword: A sword of the moon.", "Moonlight glows."]
    assert ("moonlight", 2) in count_seed_words(lines, min_count=2)
