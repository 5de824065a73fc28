"""Sentence splitting and packing of long passages (dataset.sentences)."""

import pytest

from dataset.sentences import chunk_passage, split_sentences


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One. Two! Three? Four", ["One.", "Two!", "Three?", "Four"]),
        ("Use e.g. Unix or i.e. Linux. Next.", ["Use e.g. Unix or i.e. Linux.", "Next."]),
        ("Ask Dr. Who and Mr. Smith. Then go.", ["Ask Dr. Who and Mr. Smith.", "Then go."]),
        ("The U.S. Army came at 5 a.m. Nobody woke.", ["The U.S. Army came at 5 a.m. Nobody woke."]),
        ("J. Random Hacker wrote it. Fine.", ["J. Random Hacker wrote it.", "Fine."]),
        ("Pi is 3.14 or so. Version 2.0 is out.", ["Pi is 3.14 or so.", "Version 2.0 is out."]),
        ("Wait... what? Then... Nothing.", ["Wait... what?", "Then...", "Nothing."]),
        ("Wait\u2026 Nothing.", ["Wait\u2026", "Nothing."]),
        (
            "Apples, pears, etc. and more. Fruit etc. Next one.",
            ["Apples, pears, etc. and more.", "Fruit etc.", "Next one."],
        ),
        ('He said "Go." Then left.', ['He said "Go."', "Then left."]),
        ("\u201cHello.\u201d (Aside.) [Note.] Next", ["\u201cHello.\u201d", "(Aside.)", "[Note.]", "Next"]),
        ("It ends. \u201cQuoted start.\u201d", ["It ends.", "\u201cQuoted start.\u201d"]),
        ("Born in 1990. 2001 came. Then", ["Born in 1990.", "2001 came.", "Then"]),
        ("It ends. 2. To do it.", ["It ends.", "2. To do it."]),
        ('He said "no." 3. [IBM] Foo.', ['He said "no."', "3. [IBM] Foo."]),
        ("[Usenet] 1. Something. 2. Other.", ["[Usenet] 1. Something.", "2. Other."]),
        ("He was 25. Chapter 2. Then.", ["He was 25.", "Chapter 2.", "Then."]),
        ("Obsolete (obs.) Usage. Prob. Old.", ["Obsolete (obs.) Usage.", "Prob. Old."]),
        ("Really?! Yes.", ["Really?!", "Yes."]),
        ("lower. case start stays", ["lower. case start stays"]),
        ("no end at all", ["no end at all"]),
        ("  spaced.   Out.  ", ["spaced.", "Out."]),
        ("", []),
    ],
)
def test_split_sentences(text, expected):
    assert split_sentences(text) == expected


def test_short_text_is_one_chunk_untouched():
    assert chunk_passage("Short. Text.", limit=280) == ["Short. Text."]


def test_long_text_packs_whole_sentences_up_to_the_limit():
    sentences = [f"Sentence number {i} is here." for i in range(20)]  # 26-27 chars each
    chunks = chunk_passage(" ".join(sentences), limit=60)
    assert all(len(chunk) <= 60 for chunk in chunks)
    assert " ".join(chunks) == " ".join(sentences)  # nothing lost, order kept, no sentence cut
    assert all(chunk.endswith(".") for chunk in chunks)
    # greedy: no chunk could have taken the next chunk's first sentence
    for chunk, following in zip(chunks, chunks[1:]):
        assert len(chunk) + 1 + len(split_sentences(following)[0]) > 60


def test_a_sentence_longer_than_the_limit_stays_whole():
    long_sentence = "Word " + "word " * 30 + "end."
    chunks = chunk_passage(f"Short one. {long_sentence} Tail.", limit=40)
    assert chunks == ["Short one.", long_sentence.strip(), "Tail."]


def test_first_limit_leaves_room_in_the_first_chunk_only():
    text = "Aaaa aaaa. Bbbb bbbb. Cccc cccc. Dddd dddd."
    chunks = chunk_passage(text, limit=21, first_limit=10)
    assert chunks == ["Aaaa aaaa.", "Bbbb bbbb. Cccc cccc.", "Dddd dddd."]


def test_a_text_that_fits_the_limit_but_not_the_first_limit_is_split():
    assert chunk_passage("One two. Three four.", limit=100, first_limit=10) == ["One two.", "Three four."]


def test_line_breaks_between_sentences_become_single_spaces_in_chunks():
    assert chunk_passage("First one here.\nSecond one here.\nThird.", limit=33) == [
        "First one here. Second one here.",
        "Third.",
    ]
