"""JSONL reader: chosen text/title fields, value conversion, errors with lines."""

from pathlib import Path

import pytest

from dataset.sources.base import ReaderOptions
from dataset.sources.registry import read_source
from lorecast.errors import SourceError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sources"
ITEMS = FIXTURES / "items.jsonl"


def test_field_and_title_field_with_numbers_and_nulls():
    records = read_source(str(ITEMS), ReaderOptions(field="definition", title_field="headword"))
    assert [(r.title, r.text, r.origin) for r in records] == [
        ("grok", "To understand deeply.", f"{ITEMS}:1"),
        ("foo", "42", f"{ITEMS}:3"),
        ("", "A definition without headword.", f"{ITEMS}:5"),
    ]


def test_without_title_field_titles_stay_empty():
    records = read_source(str(ITEMS), ReaderOptions(field="headword"))
    assert [(r.text, r.title) for r in records] == [("grok", ""), ("foo", ""), ("bar", "")]


def test_missing_field_names_file_line_and_the_fields_there():
    path = FIXTURES / "missing_field.jsonl"
    with pytest.raises(SourceError) as caught:
        read_source(str(path), ReaderOptions(field="definition"))
    expected = "no field 'definition' on this line (fields here: 'headword', 'meaning')"
    assert str(caught.value) == f"{path}:2: {expected}"


def test_default_field_is_text():
    with pytest.raises(SourceError, match=r"items\.jsonl:1: no field 'text'"):
        read_source(str(ITEMS))


def test_malformed_json_names_the_line():
    path = FIXTURES / "malformed.jsonl"
    with pytest.raises(SourceError) as caught:
        read_source(str(path))
    assert str(caught.value).startswith(f"{path}:2: malformed JSON at column ")


@pytest.mark.parametrize(
    "line, reason",
    [
        ('["a list"]', "expected a JSON object, found list"),
        ('{"text": ["a", "b"]}', "field 'text' holds list"),
        ('{"text": true}', "field 'text' holds bool"),
    ],
)
def test_values_that_are_not_text(tmp_path, line, reason):
    path = tmp_path / "odd.ndjson"
    path.write_text('{"text": "ok"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(SourceError) as caught:
        read_source(str(path))
    assert str(caught.value).startswith(f"{path}:2: {reason}")
