"""The inspect report's index.html: one self-contained page (inline CSS, no scripts, no remote URLs).

Charts are linked by bare file name, so the report dir can be moved or zipped whole. Every piece
of text that comes from the corpus, meta.json or the generated file passes through html.escape:
corpora routinely contain `<` and `&`. The generator <meta> tag marks a dir as a previous report,
which `write_report` may overwrite.
"""

from __future__ import annotations

import html
import json

from dataset.corpus import Corpus
from dataset.report.stats import MATTR_WINDOW, MAX_N, LengthStats, OverlapStats, TextStats

REPORT_MARKER = '<meta name="generator" content="lorecast dataset inspect">'

_CSS = """
body { font-family: system-ui, sans-serif; max-width: 70rem; margin: 2rem auto; padding: 0 1rem;
       color: #222; line-height: 1.4; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: left; vertical-align: top;
         white-space: pre-line; }
th { background: #f2f2f2; }
img { max-width: 100%; display: block; margin: 0.5rem 0; }
pre { background: #f7f7f7; padding: 0.6rem; overflow-x: auto; }
.note { color: #666; font-size: 0.9rem; }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _number(value: float | int | None, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def _percent(share: float | None) -> str:
    return "–" if share is None else f"{100 * share:.1f}%"


def _table(header: list[str] | None, rows: list[list[str]]) -> str:
    """A table of plain-text cells, all escaped here; no header row when `header` is None."""
    head = "<thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr></thead>" if header else ""
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table>{head}<tbody>{body}</tbody></table>"


def _image(name: str | None, alt: str) -> str:
    return f'<img src="{_e(name)}" alt="{_e(alt)}">' if name else ""


def _sources(meta: dict) -> str:
    sources = meta.get("sources")
    if not sources:
        return "not recorded in meta.json"
    items = sources if isinstance(sources, list) else [sources]
    return "\n".join(s if isinstance(s, str) else json.dumps(s, ensure_ascii=False) for s in items)


def _summary(corpus: Corpus, generated_name: str | None, generated: TextStats | None) -> str:
    rows = [
        ["corpus dir", str(corpus.path)],
        ["content hash", corpus.content_hash],
        ["train examples", _number(len(corpus.train))],
        ["test examples", _number(len(corpus.test))],
        ["seed words", _number(len(corpus.words))],
        ["sources", _sources(corpus.meta)],
    ]
    if generated is not None:
        lines = f"{generated.examples:,} line" + ("" if generated.examples == 1 else "s")
        rows.append(["generated text", f"{generated_name} ({lines})"])
    meta = json.dumps(corpus.meta, indent=2, ensure_ascii=False, sort_keys=True)
    return (
        "<h2>Summary</h2>"
        + _table(None, rows)
        + f"<details><summary>meta.json</summary><pre>{_e(meta)}</pre></details>"
    )


def _sides(corpus: TextStats, generated: TextStats | None) -> list[tuple[str, TextStats]]:
    return [("corpus", corpus)] + ([("generated", generated)] if generated else [])


def _lengths(sides: list[tuple[str, TextStats]], chart: str) -> str:
    rows = [["examples"] + [_number(s.examples) for _, s in sides]]
    for unit in ("words", "chars"):
        for stat in ("mean", "median", "p90", "max"):
            values: list[LengthStats] = [getattr(s, unit) for _, s in sides]
            rows.append([f"{unit}: {stat}"] + [_number(getattr(v, stat)) for v in values])
    return (
        "<h2>Example lengths</h2>"
        + _image(chart, "histogram of example lengths in words and characters")
        + _table([""] + [label for label, _ in sides], rows)
    )


def _vocabulary(sides: list[tuple[str, TextStats]]) -> str:
    rows = [
        ["words"] + [_number(s.tokens) for _, s in sides],
        ["distinct words"] + [_number(s.types) for _, s in sides],
        ["type/token ratio"] + [_number(s.ttr, 3) for _, s in sides],
        [f"MATTR ({MATTR_WINDOW}-word windows)"] + [_number(s.mattr, 3) for _, s in sides],
    ]
    note = (
        '<p class="note">The type/token ratio falls as a text grows; MATTR, the mean ratio over '
        f"every window of {MATTR_WINDOW} consecutive words, compares texts of different sizes.</p>"
    )
    return "<h2>Vocabulary</h2>" + _table([""] + [label for label, _ in sides], rows) + note


def _top_words(sides: list[tuple[str, TextStats]], chart: str) -> str:
    header = ["rank"]
    for label, _ in sides:
        header += [f"{label}: word", f"{label}: count"]
    rows = []
    for rank in range(max(len(s.top_words) for _, s in sides)):
        row = [str(rank + 1)]
        for _, side in sides:
            word, count = side.top_words[rank] if rank < len(side.top_words) else ("", None)
            row += [word, _number(count)]
        rows.append(row)
    return (
        "<h2>Top words</h2>"
        + '<p class="note">Most frequent words, common English function words left out.</p>'
        + _image(chart, "bar chart of the most frequent words")
        + _table(header, rows)
    )


def _overlap(overlaps: dict[str, OverlapStats], chart: str | None) -> str:
    if not overlaps:
        return ""
    sides = list(overlaps.items())
    rows = [["lines"] + [_number(o.lines) for _, o in sides]]
    rows += [[f"{n}-grams found in train"] + [_percent(o.ngram_share[n]) for _, o in sides]
             for n in range(1, MAX_N + 1)]
    rows.append(["lines copied verbatim from train"] + [
        f"{_percent(o.verbatim_share)} ({o.verbatim_lines:,})" for _, o in sides
    ])
    copies = ""
    for label, overlap in sides:
        if overlap.verbatim_examples:
            shown = len(overlap.verbatim_examples)
            items = "".join(f"<li>{_e(line)}</li>" for line in overlap.verbatim_examples)
            copies += f"<h3>{_e(label)}: lines copied verbatim (first {shown})</h3><ul>{items}</ul>"
    note = (
        '<p class="note">Share of each text\'s n-grams (word sequences within one line) that occur '
        "in train.txt. The held-out test set is the baseline for what unseen text of this corpus "
        "shares with its training set; generated text far above it is copying.</p>"
    )
    return (
        "<h2>Overlap with the training set</h2>"
        + note
        + _image(chart, "bar chart of n-gram overlap with the training set")
        + _table([""] + [label for label, _ in sides], rows)
        + copies
    )


def render_page(
    corpus: Corpus,
    corpus_stats: TextStats,
    generated_stats: TextStats | None,
    generated_name: str | None,
    overlaps: dict[str, OverlapStats],
    charts: dict[str, str],
) -> str:
    """The whole index.html. `charts` maps "lengths", "top_words" and, optionally, "overlap" to file names."""
    sides = _sides(corpus_stats, generated_stats)
    title = f"Corpus report: {corpus.path.name or corpus.path}"
    body = (
        f"<h1>{_e(title)}</h1>"
        + _summary(corpus, generated_name, generated_stats)
        + _lengths(sides, charts["lengths"])
        + _vocabulary(sides)
        + _top_words(sides, charts["top_words"])
        + _overlap(overlaps, charts.get("overlap"))
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"{REPORT_MARKER}<title>{_e(title)}</title><style>{_CSS}</style></head>\n"
        f"<body>\n{body}\n</body></html>\n"
    )
