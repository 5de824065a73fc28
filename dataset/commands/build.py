"""`lorecast dataset build`: the command-line face of `dataset.build.build_corpus`."""

from __future__ import annotations

from pathlib import Path

import click

from dataset.build import DEFAULT_TITLE_FORMAT, BuildOptions, BuildSummary, build_corpus
from dataset.rules import DEFAULT_LABELS, RULES, parse_rule_selection
from dataset.sources.base import ReaderOptions
from lorecast.errors import LorecastError

_DEFAULTS = BuildOptions()


def _rules_epilog() -> str:
    width = max(len(rule.name) for rule in RULES)
    lines = [f"  {rule.name:<{width}}  {rule.description}" for rule in RULES]
    heading = "Cleaning rules, in the order they run (long passages are split after upgrade_suffix):"
    return "\b\n" + heading + "\n" + "\n".join(lines)


def _parse_rules(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    try:
        return parse_rule_selection(value)
    except LorecastError as error:
        raise click.BadParameter(str(error), ctx, param) from None


@click.command("build", epilog=_rules_epilog())
@click.argument("sources", nargs=-1, required=True, metavar="SOURCES...")
@click.option(
    "-o",
    "--output",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="The corpus dir to write (train.txt, test.txt, words.txt, meta.json).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace the output dir when it already holds a corpus (has meta.json); "
    "any other non-empty dir is never replaced.",
)
# Reader options.
@click.option(
    "--field",
    default=_DEFAULTS.reader.field,
    show_default=True,
    help="JSONL key or CSV column that holds the text.",
)
@click.option(
    "--title-field",
    help="JSONL key or CSV column that holds a title (a name or headword) for each text.",
)
@click.option(
    "--fmg-names",
    type=click.Path(path_type=Path, dir_okay=False),
    help="FMG names file (e.g. WeaponName.xml) whose entries become the titles of an FMG "
    "descriptions source, matched by id.",
)
@click.option(
    "--paragraphs",
    is_flag=True,
    help="Plain-text sources: one record per blank-line-separated paragraph, not per line.",
)
@click.option("--min-score", type=int, help="Reddit sources: drop posts and comments scored below this.")
@click.option("--allow-nsfw", is_flag=True, help="Reddit sources: keep posts and comments marked over_18.")
@click.option(
    "--conversation-tags",
    is_flag=True,
    help="Reddit sources: wrap texts in <|sot|>/<|sost|>/<|sor|> tags, a reply after its parent. "
    "Such texts are never split.",
)
# Cleaning options.
@click.option(
    "--rules",
    "rules",
    default="default",
    show_default=True,
    callback=_parse_rules,
    help="Rules to run: a comma list of names, 'default' for all, '-NAME' to leave one out "
    "(e.g. 'default,-labels' or 'placeholders,whitespace'). They always run in the order listed below.",
)
@click.option(
    "--label",
    "extra_labels",
    multiple=True,
    help="Another leading label for the labels rule to strip, e.g. 'Rarity' (repeatable; "
    f"always stripped: {', '.join(DEFAULT_LABELS)}).",
)
@click.option(
    "--block",
    multiple=True,
    help="Drop examples containing this word or phrase: whole words, ignoring case, accents and obscured "
    "spellings such as b4d or b.a.d, like the served texts' blocklist (repeatable).",
)
@click.option(
    "--blocklist",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Blocklist file: one word or phrase per line, '#' starts a comment; matched like --block. Give the same "
    "file to `lorecast archive --blocklist` to hold the served texts to it too.",
)
@click.option(
    "--min-chars",
    type=click.IntRange(min=0),
    default=_DEFAULTS.min_chars,
    show_default=True,
    help="Drop examples shorter than this many characters (after splitting).",
)
@click.option(
    "--max-chars",
    type=click.IntRange(min=1),
    default=_DEFAULTS.max_chars,
    show_default=True,
    help="Drop examples longer than this many characters (after splitting, so this catches "
    "single overlong sentences).",
)
@click.option(
    "--split-over",
    type=click.IntRange(min=1),
    default=_DEFAULTS.split_over,
    show_default=True,
    help="Split a text longer than this many characters at sentence ends into examples of "
    "whole sentences up to this size.",
)
@click.option(
    "--title-format",
    default=DEFAULT_TITLE_FORMAT,
    show_default=True,
    help="How a title joins the first example of its text; uses {title} and {text}.",
)
@click.option("--no-titles", is_flag=True, help="Ignore titles: examples are the texts alone.")
# Output options.
@click.option(
    "--test-fraction",
    type=click.FloatRange(min=0, max=1, max_open=True),
    default=_DEFAULTS.test_fraction,
    show_default=True,
    help="Share of examples held out in test.txt (at least 1 when there are 2 or more, unless 0).",
)
@click.option(
    "--seed",
    type=int,
    default=_DEFAULTS.seed,
    show_default=True,
    help="Seed of the train/test split: the same sources, options and seed give byte-identical files.",
)
@click.option(
    "--min-word-count",
    type=click.IntRange(min=1),
    default=_DEFAULTS.min_word_count,
    show_default=True,
    help="A seed word in words.txt must occur at least this often in train.txt.",
)
def build(
    sources: tuple[str, ...],
    out_dir: Path,
    force: bool,
    field: str,
    title_field: str | None,
    fmg_names: Path | None,
    paragraphs: bool,
    min_score: int | None,
    allow_nsfw: bool,
    conversation_tags: bool,
    rules: tuple[str, ...],
    extra_labels: tuple[str, ...],
    block: tuple[str, ...],
    blocklist: Path | None,
    min_chars: int,
    max_chars: int,
    split_over: int,
    title_format: str,
    no_titles: bool,
    test_fraction: float,
    seed: int,
    min_word_count: int,
) -> None:
    """Build a corpus dir (train.txt, test.txt, words.txt, meta.json) from SOURCES.

    \b
    A SOURCE is PATH or FORMAT:PATH; the format follows the suffix otherwise:
      .xml fmg   .txt text   .jsonl/.ndjson jsonl   .csv/.tsv csv   (reddit: needs the prefix)
    Example, the shipped demo corpus:
      lorecast dataset build dataset/demo/jargon-4.4.7.jsonl \\
          --field definition --title-field headword -o corpus

    All sources are read before anything is written, and the corpus dir appears whole or not at all.
    """
    reader = ReaderOptions(
        field=field,
        title_field=title_field,
        fmg_names=fmg_names,
        min_score=min_score,
        allow_nsfw=allow_nsfw,
        conversation_tags=conversation_tags,
        paragraphs=paragraphs,
    )
    options = BuildOptions(
        reader=reader,
        rules=rules,
        extra_labels=extra_labels,
        block=block,
        blocklist=blocklist,
        min_chars=min_chars,
        max_chars=max_chars,
        split_over=split_over,
        title_format=title_format,
        titles=not no_titles,
        test_fraction=test_fraction,
        seed=seed,
        min_word_count=min_word_count,
        force=force,
    )
    summary = build_corpus(list(sources), out_dir, options, progress=True)
    click.echo(format_summary(summary))


def _table(header: tuple[str, ...], rows: list[tuple]) -> list[str]:
    """Left-aligned first column, right-aligned numbers."""
    cells = [header] + [tuple(str(cell) for cell in row) for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return [
        "  ".join([row[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(row[1:], widths[1:])])
        for row in cells
    ]


def format_summary(summary: BuildSummary) -> str:
    """The table printed at the end of a build."""
    counts = summary.counts
    lines = _table(("source", "format", "records"), [(s.spec, s.format, s.records) for s in summary.sources])
    lines.append("")
    lines += _table(("rule", "dropped", "changed"), [(r.name, r.dropped, r.changed) for r in summary.rules])
    lines.append("")
    lines += _table(
        ("total", "count"),
        [
            ("records", counts.records),
            ("examples", counts.examples),
            ("duplicates removed", counts.duplicates),
            ("train", counts.train),
            ("test", counts.test),
            ("seed words", counts.words),
        ],
    )
    lines += ["", f"corpus written to {summary.out_dir} ({summary.content_hash})"]
    return "\n".join(lines)
