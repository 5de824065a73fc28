"""CSV/TSV reader: header columns, quoted multi-line cells, errors with lines."""

from pathlib import Path

import pytest

from dataset.sources.base import ReaderOptions
from dataset.sources.registry import read_source
from lorecast.errors import SourceError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sources"


def test_chosen_columns_and_the_line_each_row_starts_on():
    path = FIXTURES / "items.csv"
    records = read_source(str(path), ReaderOptions(field="description", title_field="name"))
    assert [(r.title, r.text, r.origin) for r in records] == [
        ("Rope", "Thirty feet of hemp, coiled.", f"{path}:2"),
        ("Lantern", "Burns for a night.\nSmells of fish.", f"{path}:4"),
        ("Chalk", "", f"{path}:6"),
    ]


def test_tsv_is_tab_separated():
    path = FIXTURES / "items.tsv"
    records = read_source(str(path), ReaderOptions(field="description"))
    assert [r.text for r in records] == ["Thirty feet of hemp, coiled.", 'Rings "twice".']


def test_column_missing_from_header_lists_the_columns():
    path = FIXTURES / "items.csv"
    with pytest.raises(SourceError) as caught:
        read_source(str(path))
    columns = "'name', 'description', 'weight'"
    assert str(caught.value) == f"{path}:1: no column 'text' in the header (columns: {columns})"


def test_row_without_the_cell_names_file_and_line():
    path = FIXTURES / "missing_cell.csv"
    with pytest.raises(SourceError) as caught:
        read_source(str(path), ReaderOptions(field="description"))
    assert str(caught.value) == f"{path}:3: row has no 'description' cell (1 of 2 cells: 'name')"


def test_csv_prefix_reads_any_suffix(tmp_path):
    path = tmp_path / "export.dat"
    path.write_text("text\nhello\n", encoding="utf-8")
    assert [r.text for r in read_source(f"csv:{path}")] == ["hello"]


@pytest.mark.parametrize(
    "content, line",
    [
        ('text\n"fine"\n"bro"ken"\nnext\n', 3),  # a stray quote inside a quoted cell
        ('text\n"fine"\n"never closed\nmore\n', 3),  # would otherwise swallow the rest of the file
    ],
)
def test_malformed_quoting_names_the_line(tmp_path, content, line):
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SourceError) as caught:
        read_source(str(path))
    assert str(caught.value).startswith(f"{path}:{line}: malformed CSV")
