"""dataset.report.stats on inputs small enough to count by hand (the expected values are worked out
in the comments next to them)."""

import subprocess
import sys

import pytest

from dataset.report.stats import (
    MATTR_WINDOW,
    STOPWORDS,
    TOP_WORDS,
    VERBATIM_EXAMPLES,
    describe,
    length_stats,
    moving_average_ttr,
    ngram_overlap,
    percentile,
    tokenize,
    top_words,
    type_token_ratio,
)


def test_tokenize_lowercases_and_keeps_inner_apostrophes():
    assert tokenize("Don't stop—the Dragon’s gold! 42 _x_ 'quoted'") == [
        "don't", "stop", "the", "dragon’s", "gold", "42", "_x_", "quoted",
    ]
    assert tokenize("!!! ... ---") == []


def test_type_token_ratio():
    # the cat and the hat: 4 distinct of 5
    assert type_token_ratio(tokenize("The cat and the hat.")) == pytest.approx(4 / 5)
    assert type_token_ratio([]) is None


def test_mattr_is_the_mean_ratio_over_sliding_windows():
    tokens = ["a", "b", "a", "c", "c", "d"]
    # windows of 3: [a b a] 2, [b a c] 3, [a c c] 2, [c c d] 2 distinct -> (2+3+2+2) / (4 windows * 3)
    assert moving_average_ttr(tokens, window=3) == pytest.approx(9 / 12)
    # not the plain ratio (4 distinct of 6)
    assert moving_average_ttr(tokens, window=3) != pytest.approx(4 / 6)


def test_mattr_with_no_more_words_than_one_window_is_the_plain_ratio():
    tokens = ["a", "b", "a", "c"]
    assert moving_average_ttr(tokens, window=4) == pytest.approx(3 / 4)
    assert moving_average_ttr(tokens, window=10) == pytest.approx(3 / 4)
    assert moving_average_ttr([], window=3) is None


def test_mattr_matches_the_definition_window_by_window():
    tokens = [f"w{(i * i + 3 * i) % 11}" for i in range(40)]
    by_definition = [len(set(tokens[i : i + 7])) / 7 for i in range(len(tokens) - 7 + 1)]
    assert moving_average_ttr(tokens, window=7) == pytest.approx(sum(by_definition) / len(by_definition))


def test_mattr_does_not_fall_as_the_text_grows_but_ttr_does():
    # 50 distinct words cycled: every window of 100 holds exactly 50 of them
    cycle = " ".join(f"word{i}" for i in range(50))
    short, long = describe([cycle] * 4), describe([cycle] * 8)
    assert MATTR_WINDOW == 100
    assert (short.tokens, short.types) == (200, 50)
    assert short.ttr == pytest.approx(50 / 200) and long.ttr == pytest.approx(50 / 400)
    assert short.mattr == pytest.approx(0.5) and long.mattr == pytest.approx(0.5)


def test_percentile_interpolates_between_closest_ranks():
    # sorted [1, 2, 3, 4]: rank (4-1) * 0.9 = 2.7 -> 3 + 0.7 * (4 - 3)
    assert percentile([4, 1, 3, 2], 90) == pytest.approx(3.7)
    assert percentile([4, 1, 3, 2], 0) == 1
    assert percentile([4, 1, 3, 2], 100) == 4
    assert percentile([7], 90) == 7
    with pytest.raises(ValueError):
        percentile([], 50)


def test_length_stats_of_word_and_character_counts():
    texts = [
        "one two three",  # 3 words, 13 chars
        "four",  # 1, 4
        "five six",  # 2, 8
        "seven eight nine ten",  # 4, 20
        "eleven twelve thirteen fourteen fifteen",  # 5, 39
    ]
    stats = describe(texts)
    assert stats.examples == 5
    assert stats.word_counts == [3, 1, 2, 4, 5]
    assert stats.char_counts == [13, 4, 8, 20, 39]
    # words sorted [1 2 3 4 5]: p90 rank 3.6 -> 4 + 0.6 * 1
    assert (stats.words.mean, stats.words.median, stats.words.max) == (3.0, 3, 5)
    assert stats.words.p90 == pytest.approx(4.6)
    # chars sorted [4 8 13 20 39]: mean 84/5, p90 rank 3.6 -> 20 + 0.6 * 19
    assert stats.chars.mean == pytest.approx(16.8)
    assert (stats.chars.median, stats.chars.max) == (13, 39)
    assert stats.chars.p90 == pytest.approx(31.4)


def test_median_of_an_even_count_is_the_mean_of_the_middle_two():
    assert length_stats([4, 1, 3, 2]).median == 2.5


def test_lengths_count_words_by_the_tokenizer():
    stats = describe(["Don't stop—the dragon's gold!", "!!!"])
    assert stats.word_counts == [5, 0]
    assert stats.char_counts == [29, 3]


def test_top_words_leave_out_stopwords_and_keep_first_seen_order_on_ties():
    text = "The dragon and the knight. The dragon sleeps; a knight waits. Dragon!"
    assert top_words(tokenize(text)) == [("dragon", 3), ("knight", 2), ("sleeps", 1), ("waits", 1)]
    assert top_words(tokenize(text), k=2) == [("dragon", 3), ("knight", 2)]
    assert top_words(tokenize("it is what it was, and they were there")) == []
    assert {"the", "and", "a", "it's"} <= STOPWORDS


def test_describe_keeps_the_top_words_list_short():
    stats = describe([" ".join(f"name{i} " * (i + 1) for i in range(TOP_WORDS + 5))])
    assert len(stats.top_words) == TOP_WORDS
    # name24 is the most frequent (25 times); the 5 rarest are cut
    assert stats.top_words[0] == (f"name{TOP_WORDS + 4}", TOP_WORDS + 5)
    assert ("name0", 1) not in stats.top_words


def test_describe_of_nothing_is_refused():
    with pytest.raises(ValueError):
        describe([])


def test_ngram_overlap_counted_by_hand():
    training = ["the cat sat on the mat", "a dog ran"]
    candidates = ["the cat ran", "a dog sat on the mat", "zebra"]
    overlap = ngram_overlap(candidates, training)
    # 1: the cat ran | a dog sat on the mat | zebra -> all but zebra: 9 of 10
    # 2: the-cat, a-dog, sat-on, on-the, the-mat found; cat-ran, dog-sat not: 5 of 7
    # 3: sat-on-the, on-the-mat of (the-cat-ran, a-dog-sat, dog-sat-on, sat-on-the, on-the-mat): 2 of 5
    # 4: only sat-on-the-mat of (a-dog-sat-on, dog-sat-on-the, sat-on-the-mat): 1 of 3
    assert overlap.ngram_share == pytest.approx({1: 9 / 10, 2: 5 / 7, 3: 2 / 5, 4: 1 / 3})
    assert overlap.lines == 3
    assert (overlap.verbatim_lines, overlap.verbatim_share, overlap.verbatim_examples) == (0, 0.0, [])


def test_ngrams_never_span_a_line_end():
    # cat-sat only exists across the line end of the training text: 2 of 3 bigrams found
    assert ngram_overlap(["the cat sat down"], ["the cat", "sat down"]).ngram_share[2] == pytest.approx(2 / 3)
    # ... and across the line end of the candidates: none of the-cat, sat-down is in training
    assert ngram_overlap(["the cat", "sat down"], ["cat sat"]).ngram_share[2] == 0.0


def test_ngram_overlap_counts_repeats_and_ignores_case():
    overlap = ngram_overlap(["Dragon dragon DRAGON wolf"], ["dragon"])
    assert overlap.ngram_share[1] == pytest.approx(3 / 4)


def test_ngram_share_is_none_when_no_line_is_long_enough():
    overlap = ngram_overlap(["one two", "three"], ["one two three"])
    assert overlap.ngram_share == {1: 1.0, 2: 1.0, 3: None, 4: None}


def test_verbatim_copies_collapse_whitespace_but_not_case():
    training = ["the cat sat", "x"]
    candidates = ["the  cat sat ", "The cat sat", "a dog", "the cat sat"]
    overlap = ngram_overlap(candidates, training)
    assert overlap.verbatim_lines == 2
    assert overlap.verbatim_share == pytest.approx(0.5)
    assert overlap.verbatim_examples == ["the  cat sat ", "the cat sat"]


def test_verbatim_examples_are_the_first_few_copies():
    candidates = [f"copy {i}" for i in range(VERBATIM_EXAMPLES + 2)] + ["new line"]
    overlap = ngram_overlap(candidates, candidates[:-1])
    assert overlap.verbatim_lines == VERBATIM_EXAMPLES + 2
    assert overlap.verbatim_examples == candidates[:VERBATIM_EXAMPLES]
    assert overlap.verbatim_share == pytest.approx((VERBATIM_EXAMPLES + 2) / len(candidates))


def test_stats_module_does_not_load_matplotlib():
    code = "import sys, dataset.report.stats, dataset.commands.inspect; print('matplotlib' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
