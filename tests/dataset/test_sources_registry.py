"""SOURCE arguments: format prefix or suffix, gzip, and the errors for files that cannot be read."""

import gzip
from pathlib import Path, PureWindowsPath

import pytest

from dataset.sources.base import ReaderOptions
from dataset.sources.registry import READERS, parse_source_spec, read_source
from lorecast.errors import SourceError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sources"


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("WeaponName.xml", ("fmg", Path("WeaponName.xml"))),
        ("notes.txt", ("text", Path("notes.txt"))),
        ("items.jsonl", ("jsonl", Path("items.jsonl"))),
        ("RC_2019-01.ndjson", ("jsonl", Path("RC_2019-01.ndjson"))),
        ("items.csv", ("csv", Path("items.csv"))),
        ("items.TSV", ("csv", Path("items.TSV"))),
        ("corpus.v2.txt.gz", ("text", Path("corpus.v2.txt.gz"))),
        ("reddit:RC_2019-01.ndjson", ("reddit", Path("RC_2019-01.ndjson"))),
        ("csv:items.txt", ("csv", Path("items.txt"))),
        ("Reddit:dumps/RS.ndjson.gz", ("reddit", Path("dumps/RS.ndjson.gz"))),
    ],
)
def test_format_from_prefix_or_suffix(spec, expected):
    assert parse_source_spec(spec) == expected


def test_windows_drive_letter_is_part_of_the_path():
    assert parse_source_spec(r"C:\corpus\lines.txt") == ("text", Path(r"C:\corpus\lines.txt"))
    name, path = parse_source_spec(r"reddit:D:\dumps\RC.ndjson")
    assert name == "reddit" and PureWindowsPath(str(path)).drive == "D:"


def test_every_format_is_registered_under_its_own_name():
    assert set(READERS) == {"fmg", "text", "jsonl", "csv", "reddit"}
    assert all(reader.format == name for name, reader in READERS.items())


@pytest.mark.parametrize(
    "spec, reason",
    [
        ("notes.docx", "cannot tell the format from the suffix '.docx'"),
        ("archive.gz", "no suffix to tell the format from"),
        ("xml:WeaponName.xml", "unknown format 'xml'"),
    ],
)
def test_unknown_formats_name_the_file_and_list_the_known_ones(spec, reason):
    with pytest.raises(SourceError) as caught:
        parse_source_spec(spec)
    assert str(caught.value).startswith(f"{spec}: {reason}; ")
    known = "known formats: fmg (.xml), text (.txt), jsonl (.jsonl/.ndjson), csv (.csv/.tsv), reddit (prefix"
    assert known in str(caught.value)


def test_prefix_without_a_path():
    with pytest.raises(SourceError, match="^reddit:: no path after 'reddit:'$"):
        parse_source_spec("reddit:")


def test_an_existing_file_with_a_colon_in_its_name_is_a_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("notes:2020.txt").write_text("kept\n", encoding="utf-8")
    assert parse_source_spec("notes:2020.txt") == ("text", Path("notes:2020.txt"))
    assert [r.text for r in read_source("notes:2020.txt")] == ["kept"]


def test_gzip_is_read_transparently(tmp_path):
    path = tmp_path / "items.csv.gz"
    path.write_bytes(gzip.compress((FIXTURES / "items.csv").read_bytes()))
    [first, *_] = read_source(str(path), ReaderOptions(field="description"))
    assert first.text == "Thirty feet of hemp, coiled."
    assert first.origin == f"{path}:2"


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(SourceError) as caught:
        read_source(str(tmp_path / "absent.txt"))
    assert str(caught.value) == f"{tmp_path / 'absent.txt'}: no such file"
    folder = tmp_path / "folder.txt"
    folder.mkdir()
    with pytest.raises(SourceError, match="not a regular file"):
        read_source(str(folder))


def test_broken_gzip_names_the_file(tmp_path):
    path = tmp_path / "lines.txt.gz"
    path.write_bytes(b"this is not gzip data\n")
    with pytest.raises(SourceError) as caught:
        read_source(str(path))
    assert str(caught.value).startswith(f"{path}: not a valid gzip file")


def test_truncated_gzip_names_the_file(tmp_path):
    path = tmp_path / "lines.txt.gz"
    path.write_bytes(gzip.compress(b"one\ntwo\n" * 1000)[:-20])
    with pytest.raises(SourceError, match=r"lines\.txt\.gz: not a valid gzip file"):
        read_source(str(path))
