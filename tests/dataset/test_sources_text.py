"""Plain-text reader: one record per line, or per paragraph on request."""

from pathlib import Path

import pytest

from dataset.sources.base import ReaderOptions
from dataset.sources.registry import read_source
from lorecast.errors import SourceError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sources"
LINES = FIXTURES / "lines.txt"


def test_one_record_per_non_blank_line_with_its_line_number():
    records = read_source(str(LINES))
    assert [(r.text, r.origin) for r in records] == [
        ("The lamp is lit.", f"{LINES}:1"),
        ("  Indented line keeps its indent.", f"{LINES}:3"),
        ("The tower", f"{LINES}:4"),
        ("leans to the west.", f"{LINES}:5"),
    ]


def test_paragraph_mode_joins_wrapped_lines():
    records = read_source(str(LINES), ReaderOptions(paragraphs=True))
    assert [(r.text, r.origin) for r in records] == [
        ("The lamp is lit.", f"{LINES}:1"),
        ("Indented line keeps its indent. The tower leans to the west.", f"{LINES}:3"),
    ]


def test_byte_order_mark_and_crlf_are_dropped(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufefffirst\r\nsecond\r\n".encode("utf-8"))
    assert [r.text for r in read_source(str(path))] == ["first", "second"]


def test_text_that_is_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("fine\ncaf\u00e9\n".encode("latin-1"))
    with pytest.raises(SourceError) as caught:
        read_source(str(path))
    assert str(caught.value).startswith(f"{path}:2: not UTF-8 text (byte 0xe9")
