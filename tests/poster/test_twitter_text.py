"""X's weighted length (poster.twitter_text): configuration v3's weights, emoji sequences, URLs, NFC."""

from __future__ import annotations

import pytest

from poster.twitter_text import MAX_WEIGHTED_LENGTH, weighted_length


@pytest.mark.parametrize(("text", "expected"), [
    ("hello", 5),
    ("naïve café", 10),  # Latin-1 and Latin Extended: 0-4351, weight 1
    ("Привет, שלום", 12),  # Cyrillic and Hebrew are in 0-4351 too
    ("日本語", 6),  # CJK: default weight 2
    ("한국어", 6),  # Hangul syllables (U+AC00...) are outside every light range
    ("a\u2014b", 3),  # em dash U+2014 = 8212: in 8208-8223
    ("\u2032", 1),  # prime U+2032 = 8242: in 8242-8247
    ("\u2026", 2),  # ellipsis U+2026 = 8230: between the ranges, so 2
    ("\u2030", 2),  # per mille U+2030 = 8240: just below 8242
    ("\u2000\u200d", 2),  # 8192 and 8205: both ends of the first punctuation range
    ("\u200e", 2),  # U+200E = 8206: just past it
])
def test_code_points_weigh_by_configuration_v3_ranges(text: str, expected: int) -> None:
    assert weighted_length(text) == expected


def test_the_text_is_normalized_to_nfc_first() -> None:
    decomposed = "cafe\u0301"  # e + combining acute: two code points, one after NFC
    assert len(decomposed) == 5
    assert weighted_length(decomposed) == 4


@pytest.mark.parametrize(("text", "expected"), [
    ("👍", 2),
    ("👍🏽", 2),  # a skin-tone modifier does not add
    ("👨\u200d👩\u200d👧", 2),  # a zero-width-joined family: five code points, one emoji
    ("🇯🇵", 2),  # a flag: two regional indicators
    ("1\ufe0f\u20e3", 2),  # a keycap
    ("\u2764\ufe0f", 2),  # a heart with the emoji variation selector
    ("👍👍", 4),  # two emoji are two
    ("ok 👍🏽!", 6),
])
def test_an_emoji_sequence_counts_as_two(text: str, expected: int) -> None:
    assert weighted_length(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("https://example.org/" + "a" * 100, 23),  # long: shortened to t.co's 23
    ("http://a.co", 23),  # short: still 23
    ("www.example.org/page", 23),
    ("see https://example.org/x.", 4 + 23 + 1),  # the trailing full stop is not part of the link
    ("(https://example.org)", 1 + 23 + 1),
    ("example.com", 23),  # a bare domain counts as a link
    ("a" * 30 + ".com", 34),  # ...or as itself when longer: never less than X counts
    ("e.g. i.e.", 9),  # no letters-only ending of two or more: not a domain
])
def test_urls_count_23(text: str, expected: int) -> None:
    assert weighted_length(text) == expected


def test_the_limit_is_280_weighted_characters() -> None:
    assert MAX_WEIGHTED_LENGTH == 280
    assert weighted_length("a" * 280) == 280
    assert weighted_length("語" * 140) == 280
    assert weighted_length("語" * 141) == 282
    # A long link costs 23 whatever its length, so this text fits although it has 380 code points.
    text = "a" * 256 + " " + "https://example.org/" + "p" * 103
    assert len(text) == 380
    assert weighted_length(text) == 280
