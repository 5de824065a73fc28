"""`lorecast archive`: a build passes its own check and holds exactly the layout; tampering, missing files, pickles
and bad handler settings fail the check; bad inputs give one-line errors; a failed build leaves nothing behind."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import sys
import zipfile
from pathlib import Path, PurePosixPath

import pytest
import yaml
from cli_harness import lorecast

import serve_handler
from dataset.corpus import content_hash, load_corpus
from lorecast.errors import LorecastError
from ops import archive
from ops.archive import ServingOptions, build_archive
from ops.archive_check import check_archive
from serve_handler import layout
from serve_handler.selector import Calibration, Selector, SelectorHead
from serve_handler.settings import HandlerSettings
from textrules.forms import novelty_form
from trainer.model_dir import TrainingResult, read_metadata, write_metadata

EOS = "<|endoftext|>"
# The last line holds two sentences: the novelty index holds it whole and each of them.
TRAIN = ["the old kernel greps the packet.", "a sleepy daemon forks the wizard.", "the shiny bug reboots.",
         "The old wizard patched the kernel by hand at night. Then the sleepy daemon forked every packet twice."]
COPIED_SENTENCE = "then the sleepy daemon forked every packet twice"
TEST = ["the clever hacker patches the compiler."]
WORDS = [("kernel", 3), ("daemon", 2), ("wizard", 1)]
PACKAGE = Path(serve_handler.__file__).parent


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """A corpus dir, a model dir (a tiny random GPT-2 saved as `lorecast train generator` saves one), blocklist
    files and a selector dir, written in a second."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    root = tmp_path_factory.mktemp("inputs")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "train.txt").write_text("".join(line + "\n" for line in TRAIN), encoding="utf-8")
    (corpus / "test.txt").write_text("".join(line + "\n" for line in TEST), encoding="utf-8")
    (corpus / "words.txt").write_text("".join(f"{w}\t{c}\n" for w, c in WORDS), encoding="utf-8")
    (corpus / "meta.json").write_text(json.dumps({"content_hash": content_hash(TRAIN, TEST, WORDS)}))

    model = root / "model"
    vocab = {EOS: 0, **{char: index + 1 for index, char in enumerate("abcdefghijklmnopqrstuvwxyz .")}}
    characters = Tokenizer(models.WordLevel(vocab, unk_token=EOS))
    characters.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=characters, bos_token=EOS, eos_token=EOS, pad_token=EOS,
                                        unk_token=EOS)
    config = GPT2Config(vocab_size=len(vocab), n_positions=16, n_embd=8, n_layer=1, n_head=2, bos_token_id=0,
                        eos_token_id=0)
    GPT2LMHeadModel(config).save_pretrained(model)
    tokenizer.save_pretrained(model)
    (model / "model.safetensors").chmod(0o600)  # as transformers 5 writes it
    write_metadata(model, TrainingResult(
        model_dir=str(model), preset="test", base=None, corpus_path=str(corpus),
        corpus_content_hash=content_hash(TRAIN, TEST, WORDS), eval_loss_before=3.0, perplexity_before=20.0,
        eval_loss=2.0, perplexity=7.4, train_loss=2.1, steps=5, epochs=1.0, tokens_seen=100, wall_seconds=0.1,
        stopped_by_time_budget=False, resumed_from=None, seed=1, parameters=1000, options={}, versions={},
    ))

    (root / "words.blocklist").write_text("# swear words\nbadword\n\n  evil thing  # a phrase\n", encoding="utf-8")
    (root / "more.blocklist").write_text("badword\nworse\n", encoding="utf-8")

    Selector(SelectorHead(8, 4), [-1], Calibration()).save(root / "selector", metrics={}, trained_on={})
    return root


@pytest.fixture(scope="module")
def built(inputs, tmp_path_factory) -> tuple[Path, list[str]]:
    """One archive built through the Python API with every input, and the progress lines it reported."""
    lines: list[str] = []
    path = build_archive(
        inputs / "model", inputs / "corpus", tmp_path_factory.mktemp("store") / "store" / "bot.mar",
        selector_dir=inputs / "selector", blocklists=[inputs / "words.blocklist", inputs / "more.blocklist"],
        options=ServingOptions(workers=2, batch_size=4, max_batch_delay=30, response_timeout=60,
                               handler=HandlerSettings(familiar_words=3, min_chars=5)),
        progress=lines.append,
    )
    return path, lines


def build_args(inputs: Path, output: Path, *extra: str) -> list[str]:
    return ["archive", "--model", str(inputs / "model"), "--corpus", str(inputs / "corpus"), "-o", str(output),
            *extra]


def rewritten(source: Path, target: Path, replace: dict[str, bytes | None]) -> Path:
    """A copy of the zip `source` with members replaced (bytes), dropped (None) or added (a new name)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            if info.filename not in replace:
                new.writestr(info, old.read(info))
            elif replace[info.filename] is not None:
                new.writestr(info, replace[info.filename])
        for name, data in replace.items():
            if name not in old.namelist() and data is not None:
                new.writestr(name, data)
    return target


def test_a_built_archive_passes_its_check_and_holds_exactly_the_layout(built, inputs):
    path, lines = built
    report = check_archive(path)
    assert report.problems == []
    paths = {entry.path for entry in report.entries}
    assert set(layout.REQUIRED) <= paths
    # Nothing flattened: the root holds only the layout's files, everything else sits in its directory.
    roots = {PurePosixPath(name).parts[0] for name in paths}
    assert roots == {layout.HANDLER, layout.PACKAGE_DIR, layout.RULES_DIR, layout.GENERATOR_DIR, layout.SELECTOR_DIR,
                     layout.SEED_WORDS, layout.NOVELTY_SENTENCES, layout.BLOCKLIST, layout.MODEL_CONFIG,
                     layout.ARCHIVE_MANIFEST, "MAR-INF"}
    assert {name for name in paths if name.startswith("generator/")} == {
        f"generator/{name}" for name in layout.GENERATOR_FILES}
    assert {name for name in paths if name.startswith("selector/")} == {
        "selector/selector.json", "selector/selector.safetensors"}
    package_sources = {f"serve_handler/{source.relative_to(PACKAGE).as_posix()}" for source in PACKAGE.rglob("*.py")
                       if "__pycache__" not in source.parts}
    assert package_sources <= paths
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in paths)
    entry = next(entry for entry in report.entries if entry.path == "generator/model.safetensors")
    weights = (inputs / "model" / "model.safetensors").read_bytes()
    assert (entry.bytes, entry.sha256) == (len(weights), hashlib.sha256(weights).hexdigest())
    assert not any(line.startswith("warning") for line in lines)  # the model was trained on this corpus


def test_the_archive_holds_what_went_in(built, inputs):
    path, _ = built
    with zipfile.ZipFile(path) as mar:
        assert mar.read(layout.SEED_WORDS) == (inputs / "corpus" / "words.txt").read_bytes()
        novelty = mar.read(layout.NOVELTY_SENTENCES).decode("utf-8").splitlines()
        assert mar.read(layout.HANDLER) == (PACKAGE / "handler.py").read_bytes()
        # Both files, in order, comments and blank lines gone, each term once.
        assert mar.read(layout.BLOCKLIST).decode() == "badword\nevil thing\nworse\n"
        assert yaml.safe_load(mar.read(layout.MODEL_CONFIG)) == {
            "minWorkers": 2, "maxWorkers": 2, "batchSize": 4, "maxBatchDelay": 30, "responseTimeout": 60,
            "handler": {"familiar_words": 3, "min_chars": 5, "max_chars": 280, "toxicity_threshold": 0.5},
        }
        manifest = json.loads(mar.read(layout.ARCHIVE_MANIFEST))
        assert json.loads(mar.read(layout.MAR_MANIFEST))["model"]["modelName"] == "bot"
    assert manifest["model_name"] == "bot"
    assert manifest["generator"]["training"] == read_metadata(inputs / "model")
    assert manifest["corpus"] == {"source": str((inputs / "corpus").resolve()),
                                  "content_hash": load_corpus(inputs / "corpus").content_hash,
                                  "seed_words": len(WORDS), "novelty_sentences": len(TRAIN),
                                  "novelty_texts": len(TRAIN) + 2, "conversation_tags": False}
    # The novelty index: its header, then the lines and the sentences of the last one, normalized.
    assert novelty[0].startswith("lorecast-novelty-index 1 6 ")
    assert novelty[1:7] == [novelty_form(line) for line in TRAIN] + [
        "the old wizard patched the kernel by hand at night", COPIED_SENTENCE]
    assert manifest["blocklist"]["terms"] == 3
    assert manifest["options"]["batch_size"] == 4 and manifest["options"]["handler"]["min_chars"] == 5
    assert "lorecast-training.json" not in json.dumps(sorted(manifest["files"]))


def test_extracted_weights_are_readable_and_load(built, inputs, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    assert stat.S_IMODE((inputs / "model" / "model.safetensors").stat().st_mode) == 0o600
    path, _ = built
    with zipfile.ZipFile(path) as mar:
        # The mode `unzip` restores: every file readable by group and others, whoever unpacks it.
        modes = {info.filename: stat.S_IMODE(info.external_attr >> 16) for info in mar.infolist()
                 if info.filename != layout.MAR_MANIFEST}
        assert set(modes.values()) == {0o644}
        mar.extractall(tmp_path, [name for name in mar.namelist() if name.startswith("generator/")])
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "generator")
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "generator")
    assert model.config.n_layer == 1 and tokenizer.eos_token == EOS



def test_the_extracted_archives_worker_rejects_a_copied_sentence(built, tmp_path):
    import torch

    from serve_handler.filters.base import Draft
    from serve_handler.request import request_from_fields
    from serve_handler.service import GenerationService

    with zipfile.ZipFile(built[0]) as mar:
        mar.extractall(tmp_path)
    service = GenerationService.load(tmp_path, HandlerSettings(toxicity_threshold=1.0), torch.device("cpu"),
                                     torch.float32)
    copy = "Nobody saw the wizard leave the terminal room. Then the sleepy daemon forked every packet twice."
    fresh = "Nobody saw the wizard leave the terminal room. Later every sleepy packet forked the daemon twice."
    drafts = [Draft(0, copy, -1.0, True), Draft(0, fresh, -1.0, True)]
    survivors, rejected = service.chain.run(drafts, [request_from_fields({})])  # the default min_novelty
    assert [draft.text for draft in survivors] == [fresh]
    assert rejected[0]["novelty"] == 1


BAD_HANDLER = b"minWorkers: 1\nmaxWorkers: 1\nbatchSize: 8\nmaxBatchDelay: 50\nresponseTimeout: 120\n" \
              b"handler:\n  min_chars: 500\n  max_chars: 10\n"


@pytest.mark.parametrize("change, expected", [
    ({"words.txt": b"kernel\t99\n"}, ["words.txt: sha256 does not match"]),
    ({"generator/model.safetensors": b"\0" * 16}, ["generator/model.safetensors: sha256 does not match"]),
    ({"novelty.txt": None}, ["novelty.txt: missing", "novelty.txt: listed in lorecast-archive.json but not in"]),
    ({"MAR-INF/MANIFEST.json": None}, ["MAR-INF/MANIFEST.json: missing"]),
    ({"__init__.py": b""}, ["__init__.py: not listed in lorecast-archive.json"]),
    ({"generator/pytorch_model.bin": b"x"}, ["generator/pytorch_model.bin: pickle file",
                                             "generator/pytorch_model.bin: not listed"]),
    ({"model-config.yaml": BAD_HANDLER}, ["model-config.yaml: handler.min_chars (500) must be between"]),
    ({"model-config.yaml": b"handler: [1\n"}, ["model-config.yaml: invalid YAML"]),
])
def test_a_changed_archive_fails_the_check_naming_the_file(built, tmp_path, change, expected):
    report = check_archive(rewritten(built[0], tmp_path / "changed.mar", change))
    for fragment in expected:
        assert any(problem.startswith(fragment) for problem in report.problems), (fragment, report.problems)
    # Only what was changed is reported (a changed model-config.yaml also no longer matches its hash).
    named = {problem.split(":")[0] for problem in report.problems}
    assert named <= set(change)


def test_cli_check_lists_files_and_exits_1_with_one_line_per_problem(built, tmp_path):
    code, out, err = lorecast("archive", "--check", str(built[0]))
    assert code == 0, err
    listed = out.splitlines()[:-1]
    assert len(listed) == len(check_archive(built[0]).entries)
    assert any(line.split()[-1] == "generator/model.safetensors" and len(line.split()[1]) == 64 for line in listed)
    assert "OK" in out.splitlines()[-1]

    changed = rewritten(built[0], tmp_path / "changed.mar", {"words.txt": b"x\t1\n", "blocklist.txt": None})
    code, out, err = lorecast("archive", "--check", str(changed))
    assert code == 1
    problems = [line for line in err.splitlines() if line.startswith("problem: ")]
    assert sorted(problems) == sorted(f"problem: {problem}" for problem in check_archive(changed).problems)
    assert any("words.txt" in line for line in problems) and any("blocklist.txt" in line for line in problems)
    assert err.splitlines()[-1] == f"error: {changed}: {len(problems)} problem(s), see above"


@pytest.mark.parametrize("content, expected", [
    (None, "no such file"),
    (b"not a zip", "not a .mar (zip) archive"),
])
def test_cli_check_of_a_non_archive_is_a_one_line_error(tmp_path, content, expected):
    path = tmp_path / "x.mar"
    if content is not None:
        path.write_bytes(content)
    code, out, err = lorecast("archive", "--check", str(path))
    assert code == 1 and err.count("\n") == 1 and err.startswith("error: ") and expected in err


def test_cli_build_summarizes_and_replaces_only_with_force(inputs, tmp_path):
    output = tmp_path / "store" / "lore-bot.mar"
    code, out, err = lorecast(*build_args(inputs, output))
    assert code == 0, err
    first_line, *counts = out.splitlines()
    assert first_line.startswith(f"wrote {output}") and "model name 'lore-bot'" in first_line
    assert {line.rsplit(None, 1)[0].strip(): line.rsplit(None, 1)[1] for line in counts} == {
        "seed words": str(len(WORDS)), "novelty sentences": str(len(TRAIN)), "blocklist terms": "0",
        "selector": "none"}
    assert "packing" in err  # the progress lines
    assert check_archive(output).problems == []
    first = output.read_bytes()

    code, out, err = lorecast(*build_args(inputs, output, "--batch-size", "3"))
    assert code == 1 and err.count("\n") == 1 and "already exists (use --force" in err
    assert output.read_bytes() == first

    code, out, err = lorecast(*build_args(inputs, output, "--batch-size", "3", "--force"))
    assert code == 0, err
    with zipfile.ZipFile(output) as mar:
        assert yaml.safe_load(mar.read(layout.MODEL_CONFIG))["batchSize"] == 3
    assert sorted(os.listdir(output.parent)) == ["lore-bot.mar"]  # no temp dirs left


def test_a_model_trained_on_another_corpus_gives_a_warning(inputs, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(inputs / "corpus", other)
    (other / "words.txt").write_text("kernel\t1\n", encoding="utf-8")
    (other / "meta.json").write_text(json.dumps({"content_hash": content_hash(TRAIN, TEST, [("kernel", 1)])}))
    code, out, err = lorecast("archive", "--model", str(inputs / "model"), "--corpus", str(other),
                              "-o", str(tmp_path / "bot.mar"))
    assert code == 0 and "warning: the model was trained on corpus" in err


def _without(inputs: Path, tmp_path: Path, directory: str, name: str) -> Path:
    copy = tmp_path / directory
    shutil.copytree(inputs / directory, copy)
    (copy / name).unlink()
    return copy


def _selector_with(inputs: Path, tmp_path: Path, name: str | None, drop: str | None = None,
                   broken: str | None = None) -> Path:
    copy = tmp_path / "selector"
    shutil.copytree(inputs / "selector", copy)
    if name:
        (copy / name).write_bytes(b"\x80\x04pickle")
    if drop:
        (copy / drop).unlink()
    if broken:
        (copy / broken).write_text("{}")
    return copy


def _directory(path: Path) -> Path:
    path.mkdir()
    return path


def _blocklist(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "terms.txt"
    path.write_text(text, encoding="utf-8")
    return path


# Each case: (args for `archive` given inputs and tmp_path, a fragment of the one error line).
BAD_INPUTS = {
    "no model dir": (lambda i, t: ["--model", str(t / "nowhere")], "not a model dir (no such directory)"),
    "model dir without generation_config.json": (
        lambda i, t: ["--model", str(_without(i, t, "model", "generation_config.json"))],
        "model dir lacks generation_config.json"),
    "unfinished model dir": (lambda i, t: ["--model", str(_without(i, t, "model", "lorecast-training.json"))],
                             "incomplete model dir"),
    "corpus without words.txt": (lambda i, t: ["--corpus", str(_without(i, t, "corpus", "words.txt"))],
                                 "not a corpus dir, missing words.txt"),
    "output not .mar": (lambda i, t: ["-o", str(t / "bot.zip")], "must be a .mar file"),
    "bad model name": (lambda i, t: ["-o", str(t / "-bot.mar")], "not a valid TorchServe model name"),
    "output is a dir": (lambda i, t: ["-o", str(_directory(t / "dir.mar"))], "is a directory"),
    "missing blocklist": (lambda i, t: ["--blocklist", str(t / "none.txt")], "none.txt: no such file"),
    "blocklist term without letters": (lambda i, t: ["--blocklist", str(_blocklist(t, "ok\n--- # x\n"))],
                                       "terms.txt:2: blocklist term '---' has no letters or digits"),
    "pickle in the selector dir": (lambda i, t: ["--selector", str(_selector_with(i, t, "head.pt"))],
                                   "refusing pickle file(s) head.pt"),
    "selector without weights": (
        lambda i, t: ["--selector", str(_selector_with(i, t, None, drop="selector.safetensors"))],
        "no selector.safetensors"),
    "selector with a broken config": (
        lambda i, t: ["--selector", str(_selector_with(i, t, None, broken="selector.json"))],
        "not a loadable selector"),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_inputs_give_one_line_errors_and_write_nothing(inputs, tmp_path, case):
    make_args, expected = BAD_INPUTS[case]
    store = tmp_path / "store"
    override = make_args(inputs, tmp_path)
    args = build_args(inputs, store / "bot.mar")
    for flag, value in zip(override[::2], override[1::2]):
        if flag in args:
            args[args.index(flag) + 1] = value
        else:
            args += [flag, value]
    code, out, err = lorecast(*args)
    assert code == 1, (out, err)
    assert err.count("\n") == 1 and err.startswith("error: ") and expected in err, err
    assert not store.exists() or list(store.iterdir()) == []


@pytest.mark.parametrize("args, expected", [
    (["--check", "x.mar", "--model", "m", "--batch-size", "2"], "--check takes no build options; drop --model, "
                                                                "--batch-size"),
    (["--model", "m", "--corpus", "c"], "missing -o"),
    (["--model", "m", "--corpus", "c", "-o", "x.mar", "--min-chars", "300"], "bad handler option"),
])
def test_usage_errors(args, expected):
    code, out, err = lorecast("archive", *args)
    assert code == 2 and expected in err, err


FAKE_ARCHIVERS = {
    # Crashes half-way through writing the .mar.
    "crash": "open(f'{export}/{name}.mar', 'wb').write(b'PK half'); sys.exit('boom')",
    # "Succeeds" with a flattened archive: the self-check must refuse it.
    "flattened": "import zipfile; zipfile.ZipFile(f'{export}/{name}.mar', 'w').writestr('__init__.py', '')",
}


@pytest.mark.parametrize("fake", FAKE_ARCHIVERS)
def test_a_failed_pack_leaves_the_old_archive_and_no_leftovers(inputs, tmp_path, monkeypatch, fake):
    script = ("import sys; args = sys.argv[1:]; export = args[args.index('--export-path') + 1]; "
              "name = args[args.index('--model-name') + 1]; " + FAKE_ARCHIVERS[fake])
    monkeypatch.setattr(archive, "_archiver_command", lambda: [sys.executable, "-c", script])
    output = tmp_path / "store" / "bot.mar"
    output.parent.mkdir()
    output.write_bytes(b"the previous archive")
    with pytest.raises(LorecastError, match="boom" if fake == "crash" else "the built archive fails its check"):
        build_archive(inputs / "model", inputs / "corpus", output, force=True)
    assert output.read_bytes() == b"the previous archive"
    assert os.listdir(output.parent) == ["bot.mar"]
