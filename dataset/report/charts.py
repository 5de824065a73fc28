"""The PNG charts of the inspect report; the only module of the report that imports matplotlib.

Each function draws one chart into `out_dir` under a fixed file name and returns that name, so a
report dir always has the same files for the same options. Figures are built with matplotlib's
object API (Figure + Agg, no pyplot), which needs no display and keeps no global figure state.
"""

from __future__ import annotations

import math
from pathlib import Path

from matplotlib.figure import Figure

from dataset.report.stats import MAX_N, OverlapStats, TextStats, percentile

LENGTHS_PNG = "lengths.png"
TOP_WORDS_PNG = "top_words.png"
OVERLAP_PNG = "ngram_overlap.png"
CHART_FILES = (LENGTHS_PNG, TOP_WORDS_PNG, OVERLAP_PNG)

COLORS = {"corpus": "#4c72b0", "generated": "#dd8452", "test set": "#8c8c8c"}
MAX_BINS = 40


def _save(figure: Figure, out_dir: Path, name: str) -> str:
    figure.savefig(out_dir / name, dpi=100)
    return name


def _sides(corpus: TextStats, generated: TextStats | None) -> list[tuple[str, TextStats]]:
    return [("corpus", corpus)] + ([("generated", generated)] if generated else [])


def length_histograms(out_dir: Path, corpus: TextStats, generated: TextStats | None) -> str:
    """Example lengths in words and in characters, generated overlaid on the corpus."""
    figure = Figure(figsize=(10, 4), layout="constrained")
    axes = figure.subplots(1, 2)
    for ax, field, unit in zip(axes, ("word_counts", "char_counts"), ("words", "characters")):
        sides = _sides(corpus, generated)
        # A few very long examples would squash the rest into one bar: the longest 1% share the last bin.
        upper = max(1, math.ceil(max(percentile(getattr(s, field), 99) for _, s in sides)))
        step = max(1, math.ceil((upper + 1) / MAX_BINS))
        edges = list(range(0, upper + step + 1, step))
        clipped = False
        for label, side in sides:
            values = getattr(side, field)
            clipped |= max(values) > upper
            ax.hist(
                [min(v, upper) for v in values],
                bins=edges,
                weights=[1 / len(values)] * len(values),  # a share, so sides of any size compare
                histtype="stepfilled",
                alpha=0.5,
                color=COLORS[label],
                label=f"{label} ({side.examples:,} examples)",
            )
        ax.set_xlabel(f"{unit} per example" + (f" (last bin: {upper:,} or more)" if clipped else ""))
        ax.set_ylabel("share of examples")
        ax.legend()
    return _save(figure, out_dir, LENGTHS_PNG)


def top_words_chart(out_dir: Path, corpus: TextStats, generated: TextStats | None) -> str:
    """The most frequent non-stopwords of each side, as a share of all its words."""
    sides = _sides(corpus, generated)
    rows = max(len(side.top_words) for _, side in sides)
    figure = Figure(figsize=(5 * len(sides), 1.5 + 0.25 * rows), layout="constrained")
    for ax, (label, side) in zip(figure.subplots(1, len(sides), squeeze=False)[0], sides):
        words = [word for word, _ in side.top_words][::-1]  # barh draws bottom-up: most frequent on top
        shares = [100 * count / side.tokens for _, count in side.top_words][::-1]
        ax.barh(words, shares, color=COLORS[label])
        ax.set_title(label)
        ax.set_xlabel("% of all words")
    return _save(figure, out_dir, TOP_WORDS_PNG)


def overlap_chart(out_dir: Path, overlaps: dict[str, OverlapStats]) -> str:
    """Per side (e.g. "test set", "generated"): % of n-grams and of whole lines found in training."""
    categories = [f"{n}-gram" for n in range(1, MAX_N + 1)] + ["verbatim line"]
    width = 0.8 / len(overlaps)
    figure = Figure(figsize=(8, 4), layout="constrained")
    ax = figure.subplots()
    for index, (label, overlap) in enumerate(overlaps.items()):
        shares = [overlap.ngram_share[n] for n in range(1, MAX_N + 1)] + [overlap.verbatim_share]
        heights = [math.nan if share is None else 100 * share for share in shares]
        positions = [c + (index - (len(overlaps) - 1) / 2) * width for c in range(len(categories))]
        ax.bar(positions, heights, width, label=label, color=COLORS.get(label))
    ax.set_xticks(range(len(categories)), categories)
    ax.set_ylim(0, 100)
    ax.set_ylabel("% found in the training set")
    ax.legend()
    return _save(figure, out_dir, OVERLAP_PNG)
