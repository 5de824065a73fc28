"""Build a corpus dir from sources: read, clean, split, deduplicate, hold out a test set, count seeds.

    build_corpus(["dataset/demo/jargon-4.4.7.jsonl"], Path("corpus"),
                 BuildOptions(reader=ReaderOptions(field="definition", title_field="headword")))

Steps, in order:
1. Read every source completely; an unreadable one fails (file, line, reason) before anything
   is written.
2. Per record: the rules before the split (see `dataset.rules`) clean the text and the title.
3. A passage longer than `split_over` characters is cut into chunks of whole sentences
   (`dataset.sentences`); the title is prefixed to the first chunk only, with `title_format`.
   Texts with conversation tags are never split, since that would separate paired tags.
4. Line breaks left in an example (only when the whitespace rule is off) become spaces, because
   the corpus holds one example per line; empty examples are dropped.
5. The rules after the split (length, text_art, blocklist) judge each example.
6. Exact duplicates are removed, keeping the first occurrence. A build left with no example at
   all fails, saying which rules dropped what.
7. Train/test split: the test set is the `round(n * test_fraction)` examples (at least 1 when
   there are 2 or more and the fraction is not 0; always at least 1 train example) with the
   smallest sha256 of "seed NUL example". Each example's rank depends only on itself and the
   seed, so a grown corpus keeps most of its old test set. Both files keep source order.
8. Seed words from train.txt with their counts and forms, the casing prompts start with
   (`dataset.seed_words`), then the four files, written atomically (`dataset.corpus_writer`).

meta.json is as deterministic as the text files: sorted keys, no timestamps, paths as given.
In its counts, `examples` is the number after cleaning and splitting, before deduplication;
`train + test = examples - duplicates`.
"""

from __future__ import annotations

import hashlib
import re
import string
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm import tqdm

from dataset.blocklist_files import read_blocklists
from dataset.corpus import content_hash
from dataset.corpus_writer import check_output_dir, write_corpus
from dataset.hashing import sha256_file
from dataset.rules import RULE_NAMES, RuleSettings, make_rules
from dataset.rules.chain import RuleChain
from dataset.seed_words import count_seed_words
from dataset.sentences import chunk_passage
from dataset.sources.base import ReaderOptions, Record
from dataset.sources.registry import parse_source_spec, read_source
from lorecast.errors import LorecastError
from textrules.blocklist import Blocklist

DEFAULT_TITLE_FORMAT = "{title}: {text}"


@dataclass(frozen=True)
class BuildOptions:
    """Everything that decides a corpus dir's contents (plus `force`, which only allows overwriting)."""

    reader: ReaderOptions = field(default_factory=ReaderOptions)
    rules: tuple[str, ...] = RULE_NAMES  # which rules run; they always run in RULE_NAMES order
    extra_labels: tuple[str, ...] = ()  # labels stripped besides the default ones
    block: tuple[str, ...] = ()  # blocked words and phrases (textrules.blocklist)
    blocklist: Path | None = None  # a blocklist file (format: textrules.blocklist.parse_terms)
    min_chars: int = 3
    max_chars: int = 1000
    split_over: int = 280
    title_format: str = DEFAULT_TITLE_FORMAT
    titles: bool = True  # False ignores records' titles
    test_fraction: float = 0.05
    seed: int = 0
    min_word_count: int = 2
    force: bool = False


@dataclass(frozen=True)
class SourceSummary:
    spec: str  # the SOURCE argument as given
    format: str
    path: str
    sha256: str
    records: int


@dataclass(frozen=True)
class RuleSummary:
    name: str
    description: str
    dropped: int
    changed: int


@dataclass(frozen=True)
class BuildCounts:
    records: int  # read from all sources
    examples: int  # after cleaning and splitting, before deduplication
    duplicates: int  # removed
    train: int
    test: int
    words: int


@dataclass(frozen=True)
class BuildSummary:
    out_dir: Path
    sources: list[SourceSummary]
    rules: list[RuleSummary]
    counts: BuildCounts
    content_hash: str


def build_corpus(
    sources: list[str], out_dir: str | Path, options: BuildOptions | None = None, progress: bool = False
) -> BuildSummary:
    """Build the corpus dir `out_dir` from SOURCE specs (`PATH` or `FORMAT:PATH`).

    `progress` shows a tqdm bar on stderr (when stderr is a terminal). Raises LorecastError
    (SourceError for a source) for anything the user can fix; nothing is written then.
    """
    options = options or BuildOptions()
    out_dir = Path(out_dir)
    if not sources:
        raise LorecastError("no sources given")
    _check_options(options)
    check_output_dir(out_dir, options.force)
    chain = RuleChain(make_rules(options.rules, _rule_settings(options)))

    read = [(spec, read_source(spec, options.reader)) for spec in sources]
    records = [record for _, source_records in read for record in source_records]
    examples: list[str] = []
    # disable=None: tqdm shows the bar only when stderr is a terminal.
    bar = tqdm(records, desc="cleaning", unit="record", file=sys.stderr, disable=None if progress else True)
    for record in bar:
        examples.extend(_record_examples(record, chain, options))

    if not examples:
        raise LorecastError(f"no examples left after cleaning: {_drop_report(len(records), chain)}")
    unique = list(dict.fromkeys(examples))
    train, test = split_train_test(unique, options.test_fraction, options.seed)
    words = count_seed_words(train, options.min_word_count)
    digest = content_hash(train, test, words)

    summary = BuildSummary(
        out_dir=out_dir,
        sources=[_source_summary(spec, len(source_records)) for spec, source_records in read],
        rules=[
            RuleSummary(rule.name, rule.description, count.dropped, count.changed)
            for rule, count in zip(chain.rules, chain.counts.values())
        ],
        counts=BuildCounts(
            records=len(records),
            examples=len(examples),
            duplicates=len(examples) - len(unique),
            train=len(train),
            test=len(test),
            words=len(words),
        ),
        content_hash=digest,
    )
    write_corpus(out_dir, train, test, words, _meta(summary, options), options.force)
    return summary


def split_train_test(examples: list[str], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """(train, test), both in input order; see step 7 in the module docstring."""
    count = len(examples)
    test_size = 0 if fraction == 0 or count < 2 else min(count - 1, max(1, round(count * fraction)))

    def rank(index: int) -> bytes:
        return hashlib.sha256(f"{seed}\0{examples[index]}".encode("utf-8")).digest()

    test_indexes = set(sorted(range(count), key=rank)[:test_size])
    train = [example for index, example in enumerate(examples) if index not in test_indexes]
    test = [example for index, example in enumerate(examples) if index in test_indexes]
    return train, test


_LINE_BREAKS = re.compile(r"[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]+")  # what str.splitlines splits on


def _record_examples(record: Record, chain: RuleChain, options: BuildOptions) -> list[str]:
    cleaned = chain.clean_passage(record.text, record.title if options.titles else "")
    if cleaned is None:
        return []
    text, title = cleaned
    if options.reader.conversation_tags:
        chunks = [text]
    else:
        prefix_length = len(options.title_format.format(title=title, text="")) if title else 0
        chunks = chunk_passage(text, options.split_over, first_limit=options.split_over - prefix_length)
    if title:
        chunks[0] = options.title_format.format(title=title, text=chunks[0])
    examples = []
    for chunk in chunks:
        example = _LINE_BREAKS.sub(" ", chunk).strip()
        example = chain.clean_example(example) if example else None
        if example is not None:
            examples.append(example)
    return examples


def _drop_report(records: int, chain: RuleChain) -> str:
    drops = [f"{name} {count.dropped}" for name, count in chain.counts.items() if count.dropped]
    return f"{records} records read" + (f", dropped by {', '.join(drops)}" if drops else "")


def _check_options(options: BuildOptions) -> None:
    if not 0 <= options.test_fraction < 1:
        raise LorecastError(f"--test-fraction must be at least 0 and below 1, got {options.test_fraction}")
    if options.min_chars < 0 or options.max_chars < options.min_chars:
        raise LorecastError(
            f"--min-chars {options.min_chars} and --max-chars {options.max_chars} leave no valid length"
        )
    if options.split_over < 1:
        raise LorecastError(f"--split-over must be at least 1, got {options.split_over}")
    if options.min_word_count < 1:
        raise LorecastError(f"--min-word-count must be at least 1, got {options.min_word_count}")
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(options.title_format) if name}
        options.title_format.format(title="", text="")
    except (ValueError, KeyError, IndexError) as error:
        raise LorecastError(
            f"--title-format {options.title_format!r}: {error}; use {{title}} and {{text}}"
        ) from None
    if "text" not in fields:
        raise LorecastError(f"--title-format {options.title_format!r} has no {{text}} field")


def _rule_settings(options: BuildOptions) -> RuleSettings:
    try:  # a term the matcher cannot match would block nothing, silently
        Blocklist(options.block)
    except ValueError as error:
        raise LorecastError(f"--block: {error}") from None
    block = options.block
    if options.blocklist is not None:
        block += tuple(read_blocklists([options.blocklist]))
    return RuleSettings(
        extra_labels=options.extra_labels,
        min_chars=options.min_chars,
        max_chars=options.max_chars,
        block=block,
    )


def _source_summary(spec: str, records: int) -> SourceSummary:
    format_name, path = parse_source_spec(spec)
    return SourceSummary(spec, format_name, str(path), sha256_file(path), records)


def _meta(summary: BuildSummary, options: BuildOptions) -> dict:
    reader = {
        key: str(value) if isinstance(value, Path) else value for key, value in asdict(options.reader).items()
    }
    return {
        "sources": [asdict(source) for source in summary.sources],
        "rules": [asdict(rule) for rule in summary.rules],
        "options": {
            **reader,
            "rules": list(options.rules),
            "extra_labels": list(options.extra_labels),
            "block": list(options.block),
            "blocklist": None if options.blocklist is None else str(options.blocklist),
            "min_chars": options.min_chars,
            "max_chars": options.max_chars,
            "split_over": options.split_over,
            "title_format": options.title_format,
            "titles": options.titles,
            "test_fraction": options.test_fraction,
            "min_word_count": options.min_word_count,
        },
        "counts": asdict(summary.counts),
        "seed": options.seed,
        "content_hash": summary.content_hash,
    }
