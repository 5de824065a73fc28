"""`lorecast dataset build` as a user runs it: options, exit codes, one-line errors, the summary."""

import json
from pathlib import Path

from cli_harness import lorecast

from dataset.corpus import load_corpus
from dataset.rules import RULES
from lorecast.errors import SourceError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "build"
ITEMS = str(FIXTURES / "items.jsonl")
LINES = str(FIXTURES / "lines.txt")
DEMO = Path(__file__).parent.parent.parent / "dataset" / "demo" / "jargon-4.4.7.jsonl"


def invoke(*args: str):
    return lorecast("dataset", "build", *args)


def test_build_prints_the_summary_and_writes_the_corpus(tmp_path):
    out = tmp_path / "corpus"
    result = invoke(ITEMS, LINES, "--field", "caption", "--title-field", "name", "-o", str(out))
    assert result.exit_code == 0, result.output
    expected_words = [ITEMS, LINES, "jsonl", "records", "duplicates removed", "train", "test", "seed words"]
    for expected in expected_words + [str(out)]:
        assert expected in result.output
    rule_rows = {line.split()[0]: line.split()[1:] for line in result.output.splitlines() if line.split()[:1]}
    assert rule_rows["placeholders"] == ["2", "1"]
    assert rule_rows["upgrade_suffix"] == ["0", "2"]
    meta = load_corpus(out).meta
    assert meta["counts"]["records"] == 13
    assert f"{meta['counts']['duplicates']}" == rule_rows["duplicates"][-1]


def test_options_reach_the_build(tmp_path):
    out = tmp_path / "corpus"
    result = invoke(
        ITEMS,
        "--field=caption",
        "--title-field=name",
        "--rules=default,-labels",
        "--block=heretics",
        "--min-chars=15",
        "--split-over=100",
        "--title-format={title} - {text}",
        "--test-fraction=0",
        "--seed=3",
        "--min-word-count=1",
        "-o",
        str(out),
    )
    assert result.exit_code == 0, result.output
    corpus = load_corpus(out)
    assert "labels" not in [rule["name"] for rule in corpus.meta["rules"]]
    longsword = "Longsword - Weapon type: Straight Sword A plain longsword, forged for the knights of the realm."
    assert longsword in corpus.train
    assert not any("Heretics" in e or e.startswith("Pebble") for e in corpus.train)
    assert all(len(e) <= 100 for e in corpus.train if e.startswith("Moonlight"))
    assert corpus.test == [] and corpus.meta["seed"] == 3
    assert corpus.meta["options"]["min_chars"] == 15


def test_no_titles_ignores_titles(tmp_path):
    out = tmp_path / "corpus"
    result = invoke(ITEMS, "--field=caption", "--title-field=name", "--no-titles", "--test-fraction=0",
                    "-o", str(out))
    assert result.exit_code == 0, result.output
    train = load_corpus(out).train
    assert "Lights the way through dark halls." in train
    assert not any(e.startswith(("Torch", "Longsword", "Moonlight")) for e in train)


def test_label_option_adds_to_the_default_labels(tmp_path):
    source = tmp_path / "gear.jsonl"
    row = {"text": "Rarity: Legendary\nSkill: Thorns\nA crown of thorns."}
    source.write_text(json.dumps(row) + "\n", encoding="utf-8")
    out = tmp_path / "corpus"
    result = invoke(str(source), "--label", "Rarity:", "--test-fraction=0", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert load_corpus(out).train == ["Legendary Thorns A crown of thorns."]


def test_paragraphs_flag_reads_plain_text_by_paragraph(tmp_path):
    source = tmp_path / "prose.txt"
    source.write_text("A wrapped\nparagraph here.\n\nAnother one.\n", encoding="utf-8")
    out = tmp_path / "corpus"
    result = invoke(str(source), "--paragraphs", "--test-fraction=0", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert load_corpus(out).train == ["A wrapped paragraph here.", "Another one."]


def test_help_lists_every_rule_with_its_description():
    result = invoke("--help")
    assert result.exit_code == 0
    flat = " ".join(result.output.split())
    for rule in RULES:
        assert f"{rule.name} {rule.description}" in flat
    options = ["--rules", "--block", "--blocklist", "--split-over", "--force", "--seed", "--min-word-count"]
    for option in options:
        assert option in result.output


def test_unknown_rule_is_a_usage_error_naming_the_known_rules(tmp_path):
    result = invoke(LINES, "--rules", "default,-lables", "-o", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "unknown rule 'lables'" in result.output and "placeholders" in result.output
    assert not (tmp_path / "out").exists()


def test_missing_output_option_is_a_usage_error():
    result = invoke(LINES)
    assert result.exit_code == 2
    assert "-o" in result.output


def test_unreadable_source_exits_1_with_one_line_naming_the_file(tmp_path):
    missing = tmp_path / "missing.txt"
    result = invoke(LINES, str(missing), "-o", str(tmp_path / "out"))
    assert isinstance(result.exception, SourceError)
    code, out, err = result
    assert code == 1 and out == ""
    assert err == f"error: {missing}: no such file\n"
    assert not (tmp_path / "out").exists()


def test_non_empty_dir_needs_force(tmp_path):
    out = tmp_path / "out"
    assert invoke(LINES, "-o", str(out)).exit_code == 0
    code, _, err = invoke(ITEMS, "--field=caption", "-o", str(out))
    assert code == 1
    assert err.count("\n") == 1 and "--force" in err and str(out) in err
    assert invoke(ITEMS, "--field=caption", "-o", str(out), "--force").exit_code == 0
    assert json.loads((out / "meta.json").read_text(encoding="utf-8"))["sources"][0]["spec"] == ITEMS


def test_demo_corpus_builds_and_reads_well(tmp_path):
    out = tmp_path / "jargon"
    result = invoke(str(DEMO), "--field", "definition", "--title-field", "headword", "-o", str(out))
    assert result.exit_code == 0, result.output
    corpus = load_corpus(out)
    assert corpus.meta["counts"]["records"] == sum(1 for _ in DEMO.open(encoding="utf-8"))
    assert corpus.train and corpus.test and corpus.words
    assert any(e.startswith("/dev/null: ") for e in corpus.train + corpus.test)
    assert all("\u201c" not in e and "  " not in e for e in corpus.train)  # quotes and whitespace rules ran
    assert 0.03 < len(corpus.test) / (len(corpus.train) + len(corpus.test)) < 0.07
    assert "hacker" in dict(corpus.words)
