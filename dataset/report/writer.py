"""write_report(): a corpus dir (and optionally generated text) in, a report dir out.

    REPORT/index.html          the page (see page.py)
    REPORT/lengths.png         example lengths, corpus vs generated
    REPORT/top_words.png       most frequent words per side
    REPORT/ngram_overlap.png   only with generated text: n-gram overlap with train.txt

The "corpus" side is train.txt + test.txt together; overlap is always measured against train.txt
(what a model trained on), with the held-out test set as the baseline. An existing non-empty
REPORT is only written into when it holds a previous report, or when forced.
"""

from __future__ import annotations

from pathlib import Path

from dataset.corpus import load_corpus
from dataset.report import charts
from dataset.report.page import REPORT_MARKER, render_page
from dataset.report.stats import OverlapStats, describe, ngram_overlap
from dataset.sources.textio import iter_lines
from lorecast.errors import LorecastError, SourceError

INDEX_FILE = "index.html"


def read_generated(path: Path) -> list[str]:
    """One generated text per line; blank lines are skipped. Fails naming the file if none are left."""
    lines = [line.strip() for _, line in iter_lines(path) if line.strip()]
    if not lines:
        raise SourceError(path, "no generated text in it (expected one text per line)")
    return lines


def _is_previous_report(directory: Path) -> bool:
    index = directory / INDEX_FILE
    return index.is_file() and REPORT_MARKER in index.read_text(encoding="utf-8", errors="replace")


def _prepare_out_dir(out_dir: Path, force: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise LorecastError(f"{out_dir}: exists and is not a directory")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if _is_previous_report(out_dir):
            # A chart the new report does not draw (overlap without generated text) must not linger.
            for name in charts.CHART_FILES:
                (out_dir / name).unlink(missing_ok=True)
        elif not force:
            raise LorecastError(
                f"{out_dir}: directory is not empty and holds no previous report "
                "(choose another output dir, or pass --force to write into it)"
            )
    out_dir.mkdir(parents=True, exist_ok=True)


def write_report(
    corpus_dir: Path,
    out_dir: Path,
    generated: list[str] | None = None,
    *,
    generated_name: str = "generated text",
    force: bool = False,
) -> Path:
    """Write the report dir and return the path of its index.html.

    `generated`: texts to compare with the corpus (e.g. model samples); `generated_name` labels
    them on the page. `force`: write into a non-empty dir that holds no previous report.
    """
    corpus = load_corpus(corpus_dir)
    examples = corpus.train + corpus.test
    if not examples:
        raise LorecastError(f"{corpus_dir}: corpus has no examples (train.txt and test.txt are empty)")
    if generated is not None and not generated:
        raise LorecastError(f"{generated_name}: no generated text to compare")
    _prepare_out_dir(out_dir, force)

    corpus_stats = describe(examples)
    generated_stats = describe(generated) if generated else None
    overlaps: dict[str, OverlapStats] = {}
    if corpus.train and corpus.test:
        overlaps["test set"] = ngram_overlap(corpus.test, corpus.train)
    if corpus.train and generated:
        overlaps["generated"] = ngram_overlap(generated, corpus.train)

    chart_files = {
        "lengths": charts.length_histograms(out_dir, corpus_stats, generated_stats),
        "top_words": charts.top_words_chart(out_dir, corpus_stats, generated_stats),
    }
    if "generated" in overlaps:
        chart_files["overlap"] = charts.overlap_chart(out_dir, overlaps)

    index = out_dir / INDEX_FILE
    page = render_page(corpus, corpus_stats, generated_stats, generated_name, overlaps, chart_files)
    index.write_text(page, encoding="utf-8")
    return index
