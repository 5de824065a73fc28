"""write_report(): the report dir (index.html + PNG charts), rewriting it, refusing foreign dirs,
and escaping corpus text in the page."""

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from dataset.report.writer import read_generated, write_report
from lorecast.errors import LorecastError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "report"
CORPUS = FIXTURES / "corpus"
GENERATED = read_generated(FIXTURES / "generated.txt")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
OVERLAP_PNG = "ngram_overlap.png"


class _Page(HTMLParser):
    """Collects the <img src> values, the text of every table row, and the start tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.images: list[str] = []
        self.rows: list[list[str]] = []
        self.tags: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "img":
            self.images.append(dict(attrs)["src"])
        elif tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def parse(index: Path) -> _Page:
    page = _Page()
    page.feed(index.read_text(encoding="utf-8"))
    page.close()
    return page


def row(page: _Page, label: str) -> list[str]:
    matches = [cells[1:] for cells in page.rows if cells and cells[0] == label]
    assert len(matches) == 1, f"{label!r} rows: {matches}"
    return matches[0]


def assert_images_are_pngs_in(out: Path, page: _Page) -> None:
    assert page.images
    for src in page.images:
        path = out / src
        assert path.parent == out and path.is_file(), src
        assert path.read_bytes()[:8] == PNG_MAGIC, src


def test_report_without_generated_text(tmp_path):
    out = tmp_path / "report"
    index = write_report(CORPUS, out)
    assert index == out / "index.html" and index.is_file()
    page = parse(index)
    assert_images_are_pngs_in(out, page)
    assert sorted(page.images) == ["lengths.png", "top_words.png"]
    assert not (out / OVERLAP_PNG).exists()
    assert sorted(p.name for p in out.iterdir()) == ["index.html", "lengths.png", "top_words.png"]
    # the corpus side is train + test: 4 examples of 5, 6, 3 and 6 words
    assert row(page, "train examples") == ["3"] and row(page, "test examples") == ["1"]
    assert row(page, "examples") == ["4"]
    assert row(page, "words: mean") == ["5.0"] and row(page, "words: max") == ["6"]
    assert row(page, "sources") == ["legends.txt"]
    # the test set is still measured against train: a-knight-rides-to-the-tower, 5 of 6 words in train
    assert row(page, "1-grams found in train") == ["83.3%"]


def test_report_against_generated_text(tmp_path):
    out = tmp_path / "report"
    page = parse(write_report(CORPUS, out, GENERATED, generated_name="samples.txt"))
    assert_images_are_pngs_in(out, page)
    assert sorted(page.images) == ["lengths.png", OVERLAP_PNG, "top_words.png"]
    assert row(page, "generated text") == ["samples.txt (2 lines)"]
    assert row(page, "examples") == ["4", "2"]
    # test set "a knight rides to the tower" | generated "the dragon sleeps", "a wizard reads the gold book"
    assert row(page, "lines") == ["1", "2"]
    assert row(page, "1-grams found in train") == ["83.3%", "66.7%"]  # 5/6 | 6/9
    assert row(page, "2-grams found in train") == ["80.0%", "42.9%"]  # 4/5 | 3/7
    assert row(page, "3-grams found in train") == ["75.0%", "20.0%"]  # 3/4 | 1/5
    assert row(page, "4-grams found in train") == ["66.7%", "0.0%"]  # 2/3 | 0/3
    assert row(page, "lines copied verbatim from train") == ["0.0% (0)", "50.0% (1)"]
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "<li>the dragon sleeps</li>" in html


def test_page_is_self_contained(tmp_path):
    page = parse(write_report(CORPUS, tmp_path / "report", GENERATED))
    assert "script" not in page.tags and "link" not in page.tags
    assert not any(re.match(r"[a-z]+:|/", src) for src in page.images)


def test_second_run_replaces_the_report_and_drops_the_stale_overlap_chart(tmp_path):
    out = tmp_path / "report"
    write_report(CORPUS, out, GENERATED, generated_name="samples.txt")
    assert (out / OVERLAP_PNG).is_file()
    (out / "notes.txt").write_text("kept\n")  # a previous report dir is written into, not wiped

    page = parse(write_report(CORPUS, out))
    assert not (out / OVERLAP_PNG).exists()
    assert OVERLAP_PNG not in page.images
    assert "samples.txt" not in (out / "index.html").read_text(encoding="utf-8")
    assert_images_are_pngs_in(out, page)
    assert (out / "notes.txt").read_text() == "kept\n"


def test_non_empty_dir_that_is_no_report_is_refused(tmp_path):
    out = tmp_path / "photos"
    out.mkdir()
    (out / "index.html").write_text("<html>my own page</html>")
    with pytest.raises(LorecastError, match=re.escape(str(out)) + ".*not empty.*--force"):
        write_report(CORPUS, out)
    assert (out / "index.html").read_text() == "<html>my own page</html>"
    assert sorted(p.name for p in out.iterdir()) == ["index.html"]


def test_force_writes_into_a_non_empty_dir(tmp_path):
    out = tmp_path / "photos"
    out.mkdir()
    (out / "cat.jpg").write_bytes(b"not really")
    assert_images_are_pngs_in(out, parse(write_report(CORPUS, out, force=True)))
    assert (out / "cat.jpg").read_bytes() == b"not really"


def test_empty_existing_dir_and_missing_parents_are_fine(tmp_path):
    (tmp_path / "empty").mkdir()
    assert write_report(CORPUS, tmp_path / "empty").is_file()
    assert write_report(CORPUS, tmp_path / "a" / "b" / "report").is_file()


def test_output_that_is_a_file_is_refused(tmp_path):
    out = tmp_path / "report"
    out.write_text("x")
    with pytest.raises(LorecastError, match="not a directory"):
        write_report(CORPUS, out)


def write_corpus(directory: Path, train: list[str], test: list[str], meta: dict) -> Path:
    directory.mkdir(parents=True)
    (directory / "train.txt").write_text("".join(line + "\n" for line in train), encoding="utf-8")
    (directory / "test.txt").write_text("".join(line + "\n" for line in test), encoding="utf-8")
    (directory / "words.txt").write_text("alert\t2\n", encoding="utf-8")
    (directory / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    return directory


def test_corpus_text_is_escaped_in_the_page(tmp_path):
    hostile = "<script>alert(1)</script> Tom & Jerry <b>bold</b>"
    corpus = write_corpus(
        tmp_path / "<i>corpus & co",
        train=[hostile, "fish & chips <img src=x onerror=alert(2)>"],
        test=[hostile],  # a verbatim copy of train: listed on the page
        meta={"sources": ["<script>alert(3)</script>.txt"], "note": "a & b <c>"},
    )
    out = tmp_path / "report"
    index = write_report(corpus, out, [hostile], generated_name="<gen & more>.txt")
    html = index.read_text(encoding="utf-8")

    for raw in ("<script", "</script", "<b>", "<i>", "<img src=x", "<gen", "<c>"):
        assert raw not in html, raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Tom &amp; Jerry" in html
    bare_ampersands = re.findall(r"&(?!(?:[a-zA-Z]+|#\d+|#x[0-9a-fA-F]+);)", html)
    assert bare_ampersands == []
    page = parse(index)
    assert sorted(page.images) == ["lengths.png", OVERLAP_PNG, "top_words.png"]
    # the escaped text reads back as the original
    assert row(page, "sources") == ["<script>alert(3)</script>.txt"]
    assert row(page, "generated text") == ["<gen & more>.txt (1 line)"]


def test_corpus_without_examples_is_refused(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", train=[], test=[], meta={})
    with pytest.raises(LorecastError, match="no examples"):
        write_report(corpus, tmp_path / "report")
    assert not (tmp_path / "report").exists()


def test_empty_generated_list_is_refused(tmp_path):
    with pytest.raises(LorecastError, match="no generated text"):
        write_report(CORPUS, tmp_path / "report", [])
    assert not (tmp_path / "report").exists()


def test_corpus_of_punctuation_and_stopwords_still_reports(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", train=["!!!", "and the"], test=[], meta={})
    page = parse(write_report(corpus, tmp_path / "report"))
    assert_images_are_pngs_in(tmp_path / "report", page)
    assert row(page, "type/token ratio") == ["1.000"]
    assert row(page, "words: max") == ["2"]


def test_read_generated_skips_blank_lines_and_strips(tmp_path):
    path = tmp_path / "gen.txt"
    path.write_text("  first  \n\n\t\nsecond\n", encoding="utf-8")
    assert read_generated(path) == ["first", "second"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "no such file"),
        (b"\n  \n", "no generated text in it"),
        (b"fine\n\xff broken\n", "not UTF-8 text"),
    ],
)
def test_read_generated_errors_name_the_file(tmp_path, content, reason):
    path = tmp_path / "gen.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(LorecastError, match=re.escape(str(path)) + ".*" + reason):
        read_generated(path)


def test_read_generated_names_the_line_that_is_not_utf8(tmp_path):
    path = tmp_path / "gen.txt"
    path.write_bytes(b"fine\n\xff broken\n")
    with pytest.raises(LorecastError) as error:
        read_generated(path)
    assert str(error.value) == f"{path}:2: not UTF-8 text (byte 0xff at byte 1 of the line)"


def test_read_generated_refuses_a_directory(tmp_path):
    with pytest.raises(LorecastError, match="not a file"):
        read_generated(tmp_path)
