"""Reddit Pushshift reader: submissions and comments, filters, conversation tags."""

import gzip
from pathlib import Path

import pytest

from dataset.sources.base import ReaderOptions
from dataset.sources.registry import read_source
from lorecast.errors import SourceError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sources"
THREAD = FIXTURES / "thread.ndjson"


def read(options: ReaderOptions = ReaderOptions(), path: Path = THREAD) -> list[tuple[int, str, str]]:
    """(line, title, text) of each record."""
    records = read_source(f"reddit:{path}", options)
    return [(int(r.origin.rsplit(":", 1)[1]), r.title, r.text) for r in records]


def test_plain_texts_drop_nsfw_and_removed_items():
    assert read() == [
        (1, "Which lantern oil burns longest?", "Asking for a long night."),
        (3, "", "Whale oil, no contest."),
        (4, "", "Whale oil smokes too much."),
        (6, "", "Lanterns are overrated."),
        (8, "", "Why was that removed?"),
        (9, "", "Replying to the void."),
        (10, "", "Link only post"),  # title-only submission: the title is the text
        (11, "", "Quiet thread"),  # a deleted selftext leaves the title
        (12, "", "Reply before its parent."),
        (13, "", "Late parent."),
    ]


def test_min_score_drops_items_scored_below_it():
    assert [line for line, _, _ in read(ReaderOptions(min_score=2))] == [1, 3, 4, 8, 11]


def test_allow_nsfw_keeps_flagged_submissions_and_their_comments():
    lines = {line: text for line, _, text in read(ReaderOptions(allow_nsfw=True))}
    assert lines[2] == "Night market finds"
    assert lines[5] == "Nice haul."  # inherits the flag of submission s2
    assert lines[14] == "Flagged on its own."  # over_18 on the comment itself
    assert 7 not in lines and 15 not in lines  # removed/deleted stay out


def test_conversation_tags():
    assert [(line, text) for line, _, text in read(ReaderOptions(conversation_tags=True))] == [
        (1, "<|sot|>Which lantern oil burns longest?<|eot|><|sost|>Asking for a long night.<|eost|>"),
        (3, "<|sor|>Whale oil, no contest.<|eor|>"),
        (4, "<|sor|>Whale oil, no contest.<|eor|><|sor|>Whale oil smokes too much.<|eor|>"),
        (6, "<|sor|>Lanterns are overrated.<|eor|>"),
        (8, "<|sor|>Why was that removed?<|eor|>"),  # the parent was removed: no context
        (9, "<|sor|>Replying to the void.<|eor|>"),  # the parent is not in the file
        (10, "<|sot|>Link only post<|eot|>"),
        (11, "<|sot|>Quiet thread<|eot|>"),
        (12, "<|sor|>Late parent.<|eor|><|sor|>Reply before its parent.<|eor|>"),
        (13, "<|sor|>Late parent.<|eor|>"),
    ]


def test_gzipped_dump_reads_the_same(tmp_path):
    packed = tmp_path / "RC_thread.ndjson.gz"
    packed.write_bytes(gzip.compress(THREAD.read_bytes()))
    options = ReaderOptions(conversation_tags=True, min_score=2)
    assert read(options, packed) == read(options, THREAD)


def test_without_prefix_a_dump_is_plain_jsonl():
    with pytest.raises(SourceError, match=r"thread\.ndjson:1: no field 'text'"):
        read_source(str(THREAD))


@pytest.mark.parametrize(
    "line, options, reason",
    [
        ('{"id": "x", "score": 3}', ReaderOptions(), "neither a comment (no 'body') nor a submission"),
        ('{"id": "x", "body": "hi", "score": "many"}', ReaderOptions(min_score=1), "score 'many' is not an"),
        ('{"id": "x", "body": 12}', ReaderOptions(), "field 'body' holds int, not text"),
        ('{"id": "x", "body": "cut', ReaderOptions(), "malformed JSON"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path, line, options, reason):
    path = tmp_path / "dump.ndjson"
    path.write_text('{"id": "a", "body": "fine", "score": 1}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(SourceError) as caught:
        read_source(f"reddit:{path}", options)
    assert str(caught.value).startswith(f"{path}:2: {reason}")
