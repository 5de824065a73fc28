"""FMG XML reader: Yabber exports, name/description pairing, malformed input."""

from pathlib import Path

import pytest

from dataset.sources.base import ReaderOptions
from dataset.sources.registry import read_source
from lorecast.errors import SourceError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sources"
NAMES = FIXTURES / "WeaponName.xml"
INFO = FIXTURES / "WeaponInfo.xml"


def test_reads_every_entry_in_order_with_the_line_of_its_text_tag():
    records = read_source(str(NAMES))
    assert [r.text for r in records] == [
        "Tallow Knife",
        "Warden's Hook & Chain",
        "%null%",
        "Ashen Oar",
        "Name Without Description",
    ]
    assert [r.origin for r in records] == [f"{NAMES}:{line}" for line in (8, 9, 10, 11, 12)]
    assert all(r.title == "" for r in records)


def test_header_elements_in_another_order_and_entities_and_newlines():
    records = read_source(str(INFO))
    texts = [r.text for r in records]
    assert texts[0] == "A short knife rendered from candle fat.\nMelts in summer."
    assert texts[1] == "The warden\u2019s tool for hauling <lost> souls."
    # The multi-line entry starts on line 5; the next one follows its closing line.
    assert [r.origin.rsplit(":", 1)[1] for r in records] == ["5", "7", "8", "9", "10", "11", "12"]


def test_placeholder_and_empty_entries_are_yielded_as_is():
    texts = [r.text for r in read_source(str(INFO))]
    assert "%null%" in texts
    assert "" in texts


def test_pairing_gives_each_description_the_name_with_the_same_id():
    records = read_source(str(INFO), ReaderOptions(fmg_names=NAMES))
    pairs = [(r.title, r.text) for r in records]
    assert pairs == [
        ("Tallow Knife", "A short knife rendered from candle fat.\nMelts in summer."),
        ("Warden's Hook & Chain", "The warden\u2019s tool for hauling <lost> souls."),
        ("%null%", "Weapon of a forgotten oarsman."),
        ("Ashen Oar", "Weapon of a forgotten oarsman."),
        ("", "%null%"),
        ("", ""),
        ("", "A description whose name is missing."),
    ]
    # A name without a description is dropped, and origins point into the descriptions file.
    assert all("Name Without Description" not in (r.title, r.text) for r in records)
    assert all(r.origin.startswith(f"{INFO}:") for r in records)


def test_malformed_xml_names_file_line_and_column():
    with pytest.raises(SourceError) as caught:
        read_source(str(FIXTURES / "malformed.xml"))
    message = str(caught.value)
    assert message.startswith(f"{FIXTURES / 'malformed.xml'}:5: ")
    assert "malformed XML at column" in message
    assert "mismatched tag" in message


def test_duplicate_id_names_both_lines():
    with pytest.raises(SourceError) as caught:
        read_source(str(FIXTURES / "duplicate_id.xml"))
    assert str(caught.value) == f"{FIXTURES / 'duplicate_id.xml'}:6: duplicate id 7 (first used on line 4)"


def test_errors_in_the_names_file_name_that_file(tmp_path):
    names = tmp_path / "Names.xml"
    names.write_text('<fmg><entries>\n<text id="one">Bad id</text>\n</entries></fmg>\n', encoding="utf-8")
    with pytest.raises(SourceError) as caught:
        read_source(str(INFO), ReaderOptions(fmg_names=names))
    assert str(caught.value) == f"{names}:2: <text> id 'one' is not an integer"


def test_missing_names_file_is_a_source_error(tmp_path):
    with pytest.raises(SourceError, match="no such file"):
        read_source(str(INFO), ReaderOptions(fmg_names=tmp_path / "absent.xml"))


@pytest.mark.parametrize(
    "content, reason, line",
    [
        ('<?xml version="1.0"?>\n<items><text id="1">x</text></items>\n', "not <fmg>", 2),
        ("<fmg>\n<entries>\n<text>no id</text>\n</entries></fmg>\n", "without an id", 3),
        ("", "no element found", 1),
    ],
)
def test_structural_errors(tmp_path, content, reason, line):
    path = tmp_path / "odd.xml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SourceError) as caught:
        read_source(str(path))
    assert str(caught.value).startswith(f"{path}:{line}: ")
    assert reason in str(caught.value)


def test_namespaced_tags_and_crlf_line_endings(tmp_path):
    path = tmp_path / "crlf.xml"
    path.write_bytes(
        b'<fmg xmlns:y="urn:y">\r\n<y:entries>\r\n<y:text id="3">two\r\nlines</y:text>\r\n</y:entries></fmg>'
    )
    [record] = read_source(str(path))
    assert record.text == "two\nlines"
    assert record.origin == f"{path}:3"
