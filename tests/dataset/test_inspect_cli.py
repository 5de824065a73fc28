"""`lorecast dataset inspect` as a user runs it: options, exit codes, one-line errors, the printed path."""

from pathlib import Path

from cli_harness import lorecast

from dataset.build import BuildOptions, build_corpus
from lorecast.errors import LorecastError, SourceError

FIXTURES = Path(__file__).parent.parent / "fixtures"
CORPUS = FIXTURES / "report" / "corpus"
GENERATED = FIXTURES / "report" / "generated.txt"
BLANK = FIXTURES / "report" / "blank_lines.txt"


def invoke(*args: str):
    return lorecast("dataset", "inspect", *args)


def test_success_prints_the_index_path(tmp_path):
    out = tmp_path / "report"
    result = invoke(str(CORPUS), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{out / 'index.html'}\n"
    assert (out / "index.html").is_file()
    assert not (out / "ngram_overlap.png").exists()


def test_against_adds_the_overlap_chart_and_names_the_file(tmp_path):
    out = tmp_path / "report"
    result = invoke(str(CORPUS), "--against", str(GENERATED), "--output", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out / "index.html")
    assert (out / "ngram_overlap.png").is_file()
    assert f"{GENERATED} (2 lines)" in (out / "index.html").read_text(encoding="utf-8")


def test_corpus_built_by_dataset_build_can_be_inspected(tmp_path):
    corpus = tmp_path / "corpus"
    build_corpus([str(FIXTURES / "build" / "lines.txt")], corpus, BuildOptions(test_fraction=0.2, min_word_count=1))
    out = tmp_path / "report"
    result = invoke(str(corpus), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "sha256:" in (out / "index.html").read_text(encoding="utf-8")


def test_not_a_corpus_dir(tmp_path):
    (tmp_path / "train.txt").write_text("only this\n")
    out = tmp_path / "report"
    result = invoke(str(tmp_path), "-o", str(out))
    assert isinstance(result.exception, LorecastError)
    code, stdout, stderr = result
    assert (code, stdout) == (1, "")
    assert stderr == (
        f"error: {tmp_path}: not a corpus dir, missing test.txt, words.txt, meta.json "
        "(make one with `lorecast dataset build`)\n"
    )
    assert not out.exists()


def test_missing_corpus_dir(tmp_path):
    missing = tmp_path / "nowhere"
    code, stdout, stderr = invoke(str(missing), "-o", str(tmp_path / "report"))
    assert (code, stdout) == (1, "")
    assert stderr == f"error: {missing}: not a corpus dir (no such directory)\n"


def test_missing_against_file(tmp_path):
    missing = tmp_path / "samples.txt"
    out = tmp_path / "report"
    result = invoke(str(CORPUS), "--against", str(missing), "-o", str(out))
    assert isinstance(result.exception, SourceError)
    code, stdout, stderr = result
    assert (code, stdout) == (1, "")
    assert stderr == f"error: {missing}: no such file\n"
    assert not out.exists()


def test_empty_against_file(tmp_path):
    out = tmp_path / "report"
    code, stdout, stderr = invoke(str(CORPUS), "--against", str(BLANK), "-o", str(out))
    assert (code, stdout) == (1, "")
    assert stderr == f"error: {BLANK}: no generated text in it (expected one text per line)\n"
    assert not out.exists()


def test_non_empty_dir_needs_force(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "keep.txt").write_text("mine\n")
    code, stdout, stderr = invoke(str(CORPUS), "-o", str(out))
    assert (code, stdout) == (1, "")
    assert stderr.startswith(f"error: {out}: directory is not empty") and "--force" in stderr
    assert stderr.count("\n") == 1
    assert not (out / "index.html").exists()

    result = invoke(str(CORPUS), "-o", str(out), "--force")
    assert result.exit_code == 0, result.output
    assert (out / "index.html").is_file() and (out / "keep.txt").read_text() == "mine\n"


def test_output_is_required():
    result = invoke(str(CORPUS))
    assert result.exit_code == 2
    assert "--output" in result.output


def test_help_lists_every_option():
    result = invoke("--help")
    assert result.exit_code == 0
    for option in ("CORPUS_DIR", "--against", "GENERATED.txt", "-o, --output", "REPORT", "--force"):
        assert option in result.output
