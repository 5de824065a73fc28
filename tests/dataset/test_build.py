"""`build_corpus`: the corpus dir it writes, its counts and meta.json, determinism, safety."""

import hashlib
import json
from pathlib import Path

import pytest

import lorecast.output_dir
from dataset.build import BuildOptions, build_corpus, split_train_test
from dataset.corpus import CORPUS_FILES, content_hash, load_corpus
from dataset.rules import RULE_NAMES
from dataset.sources.base import ReaderOptions
from lorecast.errors import LorecastError, SourceError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "build"
ITEMS = FIXTURES / "items.jsonl"
LINES = FIXTURES / "lines.txt"
ITEM_FIELDS = ReaderOptions(field="caption", title_field="name")


def items_options(**overrides) -> BuildOptions:
    return BuildOptions(reader=ITEM_FIELDS, **{"test_fraction": 0, "min_word_count": 1, **overrides})


def all_examples(out: Path) -> list[str]:
    corpus = load_corpus(out)
    return corpus.train + corpus.test


def many_lines(tmp_path: Path, count: int = 200) -> Path:
    path = tmp_path / "many.txt"
    lines = [f"Line {i} tells of lantern number {i * 7}.\n" for i in range(count)]
    path.write_text("".join(lines), encoding="utf-8")
    return path


def test_build_writes_a_corpus_dir_that_load_corpus_reads(tmp_path):
    out = tmp_path / "corpus"
    summary = build_corpus([str(ITEMS), str(LINES)], out, items_options())
    corpus = load_corpus(out)
    assert sorted(p.name for p in out.iterdir()) == sorted(CORPUS_FILES)
    assert summary.counts.train == len(corpus.train) and summary.counts.test == len(corpus.test)
    assert summary.counts.words == len(corpus.words)
    assert corpus.meta["content_hash"] == summary.content_hash
    assert summary.content_hash == content_hash(corpus.train, corpus.test, corpus.seed_words)
    assert summary.out_dir == out


def test_cleaning_titles_and_splitting_on_the_fixture(tmp_path):
    out = tmp_path / "corpus"
    build_corpus([str(ITEMS)], out, items_options())
    examples = all_examples(out)
    assert examples[0] == "Longsword: Straight Sword A plain longsword, forged for the knights of the realm."
    assert "Spinning Slash A blade that sings & dances in the wind." in examples  # %null% title dropped
    assert "Torch: Lights the way through dark halls." in examples
    assert not any("%null%" in e or "NO_TEXT" in e or "Broken Dagger" in e for e in examples)
    moon = [e for e in examples if "moon" in e.lower() or "voice speaks" in e]
    assert len(moon) == 2 and moon[0].startswith("Moonlight Greatsword: A sword of the moon")
    assert not moon[1].startswith("Moonlight") and '"Return the blade," it says.' in moon[1]
    assert all(len(e) <= 280 for e in moon)


def test_rule_and_total_counts_in_summary_and_meta(tmp_path):
    out = tmp_path / "corpus"
    summary = build_corpus([str(ITEMS), str(LINES)], out, items_options(min_chars=20, block=("heretics",)))
    rules = {rule.name: (rule.dropped, rule.changed) for rule in summary.rules}
    assert rules == {
        "placeholders": (2, 1),  # %null% and NO_TEXT texts; the %null% title
        "entities": (0, 1),
        "labels": (0, 3),
        "whitespace": (0, 4),
        "quotes": (0, 1),
        "upgrade_suffix": (0, 2),
        "length": (1, 0),  # "Pebble: Tiny."
        "text_art": (0, 0),
        "blocklist": (1, 0),  # "...worn by Heretics..."
    }
    counts = summary.counts
    assert (counts.records, counts.examples, counts.duplicates) == (13, 10, 2)
    assert counts.train + counts.test == counts.examples - counts.duplicates
    meta = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    assert meta["counts"] == {
        "records": 13,
        "examples": 10,
        "duplicates": 2,
        "train": counts.train,
        "test": counts.test,
        "words": counts.words,
    }
    assert [r["name"] for r in meta["rules"]] == list(RULE_NAMES)
    assert all(r["description"] and (r["dropped"], r["changed"]) == rules[r["name"]] for r in meta["rules"])


def test_meta_records_sources_options_and_seed(tmp_path):
    out = tmp_path / "corpus"
    build_corpus([str(ITEMS), f"text:{LINES}"], out, items_options(seed=7))
    meta = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    assert meta["sources"] == [
        {
            "spec": str(ITEMS),
            "format": "jsonl",
            "path": str(ITEMS),
            "sha256": hashlib.sha256(ITEMS.read_bytes()).hexdigest(),
            "records": 9,
        },
        {
            "spec": f"text:{LINES}",
            "format": "text",
            "path": str(LINES),
            "sha256": hashlib.sha256(LINES.read_bytes()).hexdigest(),
            "records": 4,
        },
    ]
    assert meta["seed"] == 7
    assert meta["options"]["field"] == "caption" and meta["options"]["title_field"] == "name"
    assert meta["options"]["split_over"] == 280 and meta["options"]["rules"] == list(RULE_NAMES)
    text = (out / "meta.json").read_text(encoding="utf-8")
    assert text == json.dumps(meta, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_two_builds_are_byte_identical_and_another_seed_changes_only_the_split(tmp_path):
    source = str(many_lines(tmp_path))
    options = BuildOptions(test_fraction=0.1)
    build_corpus([source], tmp_path / "a", options)
    build_corpus([source], tmp_path / "b", options)
    for name in CORPUS_FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name

    build_corpus([source], tmp_path / "c", BuildOptions(test_fraction=0.1, seed=1))
    a, c = load_corpus(tmp_path / "a"), load_corpus(tmp_path / "c")
    assert a.test != c.test
    assert len(a.test) == len(c.test) == 20
    assert sorted(a.train + a.test) == sorted(c.train + c.test)


def test_files_are_utf8_with_newline_endings_and_no_blank_lines(tmp_path):
    source = tmp_path / "crlf.txt"
    source.write_bytes("Caf\u00e9 au lait.\r\nNa\u00efve r\u00e9sum\u00e9.\r\n".encode("utf-8"))
    build_corpus([str(source)], tmp_path / "out", BuildOptions(test_fraction=0))
    expected = "Caf\u00e9 au lait.\nNa\u00efve r\u00e9sum\u00e9.\n".encode("utf-8")
    assert (tmp_path / "out" / "train.txt").read_bytes() == expected
    assert (tmp_path / "out" / "test.txt").read_bytes() == b""


def test_duplicates_are_removed_keeping_the_first_occurrence(tmp_path):
    source = tmp_path / "dupes.txt"
    source.write_text("Bravo.\nAlpha.\nBravo.\n  Charlie.\nAlpha.\nCharlie.\n", encoding="utf-8")
    summary = build_corpus([str(source)], tmp_path / "out", BuildOptions(test_fraction=0))
    # "  Charlie." becomes "Charlie." before deduplication, so it is the first occurrence
    assert load_corpus(tmp_path / "out").train == ["Bravo.", "Alpha.", "Charlie."]
    assert (summary.counts.examples, summary.counts.duplicates) == (6, 3)


@pytest.mark.parametrize(
    ("count", "fraction", "test_size"),
    [(0, 0.05, 0), (1, 0.5, 0), (2, 0.05, 1), (10, 0.05, 1), (100, 0.05, 5), (100, 0, 0), (3, 0.99, 2)],
)
def test_split_sizes(count, fraction, test_size):
    examples = [f"example {i}" for i in range(count)]
    train, test = split_train_test(examples, fraction, seed=0)
    assert len(test) == test_size
    assert sorted(train + test) == sorted(examples)
    assert train == [e for e in examples if e in train]  # input order kept
    assert test == [e for e in examples if e in test]


def test_split_test_set_depends_on_each_example_not_on_the_others():
    examples = [f"example {i}" for i in range(100)]
    _, test = split_train_test(examples, 0.1, seed=3)
    _, test_after_growth = split_train_test(examples + [f"new {i}" for i in range(10)], 0.1, seed=3)
    assert len(set(test) & set(test_after_growth)) >= 8


def test_titles_can_be_ignored_or_formatted(tmp_path):
    build_corpus([str(ITEMS)], tmp_path / "plain", items_options(titles=False))
    assert all(not e.startswith(("Torch", "Longsword")) for e in all_examples(tmp_path / "plain"))
    assert "Lights the way through dark halls." in all_examples(tmp_path / "plain")
    build_corpus([str(ITEMS)], tmp_path / "fmt", items_options(title_format="{text} ({title})"))
    assert "Lights the way through dark halls. (Torch)" in all_examples(tmp_path / "fmt")


@pytest.mark.parametrize("title_format", ["{title}", "{name}: {text}", "{title: {text}", "{0} {text}"])
def test_bad_title_format_is_a_clear_error_before_anything_is_read(tmp_path, title_format):
    with pytest.raises(LorecastError, match="--title-format"):
        build_corpus([str(tmp_path / "missing.txt")], tmp_path / "out",
                     BuildOptions(title_format=title_format))
    assert not (tmp_path / "out").exists()


def test_blocklist_file_and_block_terms_ignore_case(tmp_path):
    out = tmp_path / "out"
    options = items_options(blocklist=FIXTURES / "blocklist.txt", block=("LANTERN",))
    summary = build_corpus([str(ITEMS), str(LINES)], out, options)
    examples = all_examples(out)
    assert not any("heretic" in e.lower() or "wind" in e.lower() or "lantern" in e.lower() for e in examples)
    assert {r.name: r.dropped for r in summary.rules}["blocklist"] == 3


def test_blocklist_terms_are_whole_words_and_comments_block_nothing(tmp_path):
    source = tmp_path / "lines.txt"
    kept = ["A classic passage of the old faith.", "Whole words only: the comment names no term."]
    source.write_text("\n".join([*kept, "Worn by a$$ heretics.", "The wind howls."]) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    summary = build_corpus([str(source)], out, BuildOptions(blocklist=FIXTURES / "blocklist.txt", test_fraction=0))
    assert sorted(load_corpus(out).train) == sorted(kept)
    assert {r.name: r.dropped for r in summary.rules}["blocklist"] == 2


def test_a_blocklist_term_that_cannot_match_names_its_line(tmp_path):
    blocklist = tmp_path / "terms.txt"
    blocklist.write_text("fine\n# a comment\n...\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"terms.txt:3: .*no letters or digits.*--blocklist"):
        build_corpus([str(LINES)], tmp_path / "out", BuildOptions(blocklist=blocklist))
    with pytest.raises(LorecastError, match="--block: .*no letters or digits"):
        build_corpus([str(LINES)], tmp_path / "out", BuildOptions(block=("--",)))
    assert not (tmp_path / "out").exists()


def test_a_missing_blocklist_file_names_the_file(tmp_path):
    with pytest.raises(SourceError, match="nope.txt.*--blocklist"):
        build_corpus([str(LINES)], tmp_path / "out", BuildOptions(blocklist=tmp_path / "nope.txt"))


def test_without_the_whitespace_rule_line_breaks_still_never_split_an_example(tmp_path):
    out = tmp_path / "out"
    summary = build_corpus([str(ITEMS)], out, items_options(rules=("placeholders",)))
    corpus = load_corpus(out)
    assert "Torch: Lights\tthe\u00a0way\u200b through dark halls." in corpus.train
    longsword = "Longsword +2: Weapon type: Straight Sword A plain longsword, forged for the knights of the realm."
    assert longsword in corpus.train
    # 7 records survive placeholders, the long one gives 2 examples: one line each in train.txt
    assert summary.counts.train == len(corpus.train) == 8


def test_conversation_tagged_texts_are_never_split(tmp_path):
    body = " ".join(f"Sentence {i} of a long reply." for i in range(20))
    dump = tmp_path / "dump.ndjson"
    dump.write_text(
        json.dumps({"id": "c1", "body": body, "score": 3, "parent_id": "t3_s", "link_id": "t3_s"}) + "\n",
        encoding="utf-8",
    )
    reader = ReaderOptions(conversation_tags=True)
    build_corpus([f"reddit:{dump}"], tmp_path / "tagged", BuildOptions(reader=reader, test_fraction=0))
    assert load_corpus(tmp_path / "tagged").train == [f"<|sor|>{body}<|eor|>"]
    build_corpus([f"reddit:{dump}"], tmp_path / "plain", BuildOptions(test_fraction=0))
    assert len(load_corpus(tmp_path / "plain").train) > 1


def test_a_failing_source_writes_nothing(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(SourceError) as error:
        build_corpus([str(ITEMS), str(FIXTURES / "broken.jsonl")], out, items_options())
    assert str(error.value).startswith(f"{FIXTURES / 'broken.jsonl'}:3: ")
    assert list(tmp_path.iterdir()) == []


def test_a_crash_while_writing_leaves_no_corpus_and_no_staging_dir(tmp_path, monkeypatch):
    def crash(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(lorecast.output_dir, "_swap_in", crash)
    with pytest.raises(LorecastError, match="No space left"):
        build_corpus([str(LINES)], tmp_path / "out", BuildOptions())
    assert list(tmp_path.iterdir()) == []


def test_a_crash_while_replacing_keeps_the_old_corpus(tmp_path, monkeypatch):
    out = tmp_path / "out"
    build_corpus([str(LINES)], out, BuildOptions())
    before = {name: (out / name).read_bytes() for name in CORPUS_FILES}
    real_replace = lorecast.output_dir.os.replace

    def replace(source, target):
        if Path(source).name.startswith(".out.tmp-"):
            raise OSError(5, "Input/output error")
        real_replace(source, target)

    monkeypatch.setattr(lorecast.output_dir.os, "replace", replace)
    with pytest.raises(LorecastError, match="Input/output error"):
        build_corpus([str(ITEMS)], out, items_options(force=True))
    assert {name: (out / name).read_bytes() for name in CORPUS_FILES} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_refuses_a_non_empty_dir_without_force_and_replaces_a_corpus_with_it(tmp_path):
    out = tmp_path / "out"
    build_corpus([str(LINES)], out, BuildOptions())
    with pytest.raises(LorecastError, match="not empty.*--force"):
        build_corpus([str(ITEMS)], out, items_options())
    assert load_corpus(out).meta["sources"][0]["spec"] == str(LINES)
    build_corpus([str(ITEMS)], out, items_options(force=True))
    assert load_corpus(out).meta["sources"][0]["spec"] == str(ITEMS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_force_never_replaces_a_dir_that_is_not_a_corpus(tmp_path):
    out = tmp_path / "notes"
    out.mkdir()
    (out / "thesis.tex").write_text("precious", encoding="utf-8")
    with pytest.raises(LorecastError, match="not a corpus dir"):
        build_corpus([str(LINES)], out, BuildOptions(force=True))
    assert (out / "thesis.tex").read_text(encoding="utf-8") == "precious"


def test_an_empty_existing_dir_is_used_without_force(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    build_corpus([str(LINES)], out, BuildOptions())
    assert load_corpus(out).train


def test_an_output_path_that_is_a_file_is_refused(tmp_path):
    out = tmp_path / "file"
    out.write_text("x", encoding="utf-8")
    with pytest.raises(LorecastError, match="not a directory"):
        build_corpus([str(LINES)], out, BuildOptions(force=True))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (BuildOptions(test_fraction=1.0), "--test-fraction"),
        (BuildOptions(min_chars=10, max_chars=5), "--min-chars"),
        (BuildOptions(split_over=0), "--split-over"),
        (BuildOptions(min_word_count=0), "--min-word-count"),
        (BuildOptions(rules=("nope",)), "nope"),
    ],
)
def test_bad_options_are_one_line_errors(tmp_path, options, message):
    with pytest.raises(LorecastError, match=message) as error:
        build_corpus([str(LINES)], tmp_path / "out", options)
    assert "\n" not in str(error.value)


def test_a_build_that_leaves_no_examples_is_an_error_that_says_why(tmp_path):
    source = tmp_path / "empty.jsonl"
    source.write_text('{"text": "%null%"}\n{"text": "ab"}\n{"text": "   "}\n', encoding="utf-8")
    with pytest.raises(LorecastError) as error:
        build_corpus([str(source)], tmp_path / "out")
    assert str(error.value) == "no examples left after cleaning: 3 records read, dropped by placeholders 2, length 1"
    assert not (tmp_path / "out").exists()


def test_no_sources_is_an_error(tmp_path):
    with pytest.raises(LorecastError, match="no sources"):
        build_corpus([], tmp_path / "out")
