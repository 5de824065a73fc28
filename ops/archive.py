"""`lorecast archive`: build a `.mar` (contract 4, see layout.py). Runs outside TorchServe; archive_check.py
checks a built one.

Build: validate the inputs, stage exactly the layout's paths in a temp dir, hash every staged file into
lorecast-archive.json, pack the stage with torch-model-archiver, verify the result with `check_archive`, and only
then rename it into place, so a crash never leaves a half-written `.mar` under the final name.

lorecast-archive.json (one JSON object, written last):
    format             1
    model_name         the TorchServe model name (the .mar's file stem)
    lorecast_version, built_at (UTC, ISO 8601)
    files              {path: {"sha256": hex, "bytes": int}} for every staged file but lorecast-archive.json
                       itself (MAR-INF/MANIFEST.json is added later by the archiver)
    generator          {"source": model dir, "training": the model dir's lorecast-training.json}
    selector           {"source": selector dir} or null
    corpus             {"source": corpus dir, "content_hash", "seed_words", "novelty_sentences" (train.txt lines),
                       "novelty_texts" (distinct lines and sentences in the novelty index), "conversation_tags"}
    blocklist          {"sources": [file, ...], "terms": int}
    options            {"workers", "batch_size", "max_batch_delay", "response_timeout", "handler": {...}}
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import yaml

import serve_handler
import textrules
from dataset.blocklist_files import read_blocklists
from lorecast.errors import LorecastError
from ops.archive_check import check_archive
from serve_handler import layout
from serve_handler.novelty import NoveltyIndex
from serve_handler.settings import HandlerSettings
from textrules.blocklist import format_terms

MANIFEST_FORMAT = 1
PACKAGE_SUFFIXES = (".py", ".json")  # modules and the schemas they load
# torch-model-archiver's own rule for --model-name; checked here so the user gets it before any staging.
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-.]*")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ServingOptions:
    """What goes into model-config.yaml: TorchServe's model settings and the handler's own section."""

    workers: int = 1
    batch_size: int = 8
    max_batch_delay: int = 50  # milliseconds TorchServe waits to fill a batch
    response_timeout: int = 120  # seconds
    handler: HandlerSettings = field(default_factory=HandlerSettings)

    def model_config(self) -> dict:
        return {
            "minWorkers": self.workers,
            "maxWorkers": self.workers,
            "batchSize": self.batch_size,
            "maxBatchDelay": self.max_batch_delay,
            "responseTimeout": self.response_timeout,
            "handler": self.handler.as_section(),
        }


def build_archive(
    model_dir: str | Path,
    corpus_dir: str | Path,
    output: str | Path,
    *,
    selector_dir: str | Path | None = None,
    blocklists: Iterable[str | Path] = (),
    options: ServingOptions = ServingOptions(),
    force: bool = False,
    progress: Progress = lambda line: None,
) -> Path:
    """Build `output` (a `.mar`) from a model dir, a corpus dir and optional selector dir and blocklist files.

    `progress` receives short status lines (and warnings) as the build goes. Returns the output path.
    """
    from dataset.corpus import WORDS_FILE, load_corpus
    from trainer.model_dir import read_metadata
    from trainer.selector_dir import read_selector_dir

    output = Path(output)
    model_dir, corpus_dir = Path(model_dir), Path(corpus_dir)
    blocklists = [Path(path) for path in blocklists]
    name = model_name(output)
    _check_output(output, force)
    training = read_metadata(model_dir)
    missing = [file_name for file_name in layout.GENERATOR_FILES if not (model_dir / file_name).is_file()]
    if missing:
        raise LorecastError(f"{model_dir}: model dir lacks {', '.join(missing)} (needed in the archive)")
    corpus = load_corpus(corpus_dir)
    terms = read_blocklists(blocklists)
    selector_files = read_selector_dir(Path(selector_dir)) if selector_dir is not None else []
    if importlib.util.find_spec("model_archiver") is None:
        raise LorecastError("torch-model-archiver is not installed (pip install 'lorecast[serve]')")
    if training.get("corpus_content_hash") not in (None, corpus.content_hash):
        progress(f"warning: the model was trained on corpus {training['corpus_content_hash']}, "
                 f"not on {corpus_dir} ({corpus.content_hash}); novelty is measured against {corpus_dir}")

    with tempfile.TemporaryDirectory(prefix="lorecast-archive-") as work:
        stage = Path(work) / "stage"
        progress("staging files")
        progress(f"indexing {len(corpus.train):,} training lines and their sentences for the novelty check")
        novelty = NoveltyIndex.from_lines(corpus.train)
        files = _stage(stage, model_dir, corpus_dir / WORDS_FILE, novelty, selector_files, terms, options)
        manifest = {
            "format": MANIFEST_FORMAT,
            "model_name": name,
            "lorecast_version": _lorecast_version(),
            "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "files": files,
            "generator": {"source": str(model_dir.resolve()), "training": training},
            "selector": None if selector_dir is None else {"source": str(Path(selector_dir).resolve())},
            "corpus": {
                "source": str(corpus_dir.resolve()),
                "content_hash": corpus.content_hash,
                "seed_words": len(corpus.words),
                "novelty_sentences": len(corpus.train),
                "novelty_texts": len(novelty),
                "conversation_tags": corpus.conversation_tags,  # the worker answers replies in those tags
            },
            "blocklist": {"sources": [str(path.resolve()) for path in blocklists], "terms": len(terms)},
            "options": asdict(options),
        }
        # Not listed in `files`: it cannot hold its own hash.
        _write(stage, layout.ARCHIVE_MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode("utf-8"), {})
        total = sum(entry["bytes"] for entry in files.values())
        progress(f"packing {len(files) + 1} files ({format_size(total)}) with torch-model-archiver")
        pack_stage(stage, name, output, force, Path(work), progress)
    return output


def _stage(stage: Path, model_dir: Path, words: Path, novelty: NoveltyIndex, selector_files: list[Path],
           terms: list[str], options: ServingOptions) -> dict[str, dict]:
    """Write every layout path but lorecast-archive.json under `stage`; returns {path: {sha256, bytes}}."""
    files: dict[str, dict] = {}
    worker = Path(serve_handler.__file__).parent
    _copy(worker / layout.HANDLER, stage, layout.HANDLER, files)
    for package in (worker, Path(textrules.__file__).parent):
        for source in _package_files(package):
            _copy(source, stage, f"{package.name}/{source.relative_to(package).as_posix()}", files)
    for file_name in layout.GENERATOR_FILES:
        _copy(model_dir / file_name, stage, f"{layout.GENERATOR_DIR}/{file_name}", files)
    for source in selector_files:
        _copy(source, stage, f"{layout.SELECTOR_DIR}/{source.name}", files)
    _copy(words, stage, layout.SEED_WORDS, files)
    _write(stage, layout.NOVELTY_SENTENCES, novelty.to_text().encode("utf-8"), files)
    _write(stage, layout.BLOCKLIST, format_terms(terms).encode("utf-8"), files)
    model_config = yaml.safe_dump(options.model_config(), sort_keys=False)
    _write(stage, layout.MODEL_CONFIG, model_config.encode("utf-8"), files)
    return files


def model_name(output: Path) -> str:
    """The TorchServe model name that `output` (a `.mar` path) gives: its file stem."""
    if output.suffix != ".mar":
        raise LorecastError(f"{output}: the output must be a .mar file (e.g. model_store/NAME.mar)")
    if not MODEL_NAME.fullmatch(output.stem):
        raise LorecastError(
            f"{output}: {output.stem!r} is not a valid TorchServe model name "
            "(letters, digits, '_', '-', '.'; starting with a letter or digit)"
        )
    return output.stem


def format_size(size: float) -> str:
    if size < 1000:
        return f"{size} B"
    for unit in ("KB", "MB"):
        size /= 1000
        if size < 1000:
            return f"{size:.1f} {unit}"
    return f"{size / 1000:.1f} GB"


def _check_output(output: Path, force: bool) -> None:
    if output.is_dir():
        raise LorecastError(f"{output}: is a directory; give the .mar file to write")
    if output.exists() and not force:
        raise LorecastError(f"{output}: already exists (use --force to replace it)")
    if output.parent.exists() and not output.parent.is_dir():
        raise LorecastError(f"{output.parent}: not a directory")


def _package_files(package: Path) -> list[Path]:
    return sorted(
        path for path in package.rglob("*")
        if path.is_file() and path.suffix in PACKAGE_SUFFIXES
        and not any(part == "__pycache__" or part.startswith(".") for part in path.relative_to(package).parts)
    )


def _copy(source: Path, stage: Path, relative: str, files: dict[str, dict]) -> None:
    """Copy `source` to `stage/relative`, hashing it on the way (one read of what may be a large weight file)."""
    target = stage / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    with open(source, "rb") as reader, open(target, "wb") as writer:
        for block in iter(lambda: reader.read(1 << 20), b""):
            digest.update(block)
            writer.write(block)
            size += len(block)
    # transformers 5 saves weights as 0600; the archive keeps the stage's modes, and whoever unpacks it (another
    # user, a container) must be able to read them.
    os.chmod(target, 0o644)
    files[relative] = {"sha256": digest.hexdigest(), "bytes": size}


def _write(stage: Path, relative: str, data: bytes, files: dict[str, dict]) -> None:
    target = stage / relative
    target.write_bytes(data)
    os.chmod(target, 0o644)
    files[relative] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def _archiver_command() -> list[str]:
    return [sys.executable, "-m", "model_archiver.model_packaging"]


def pack_stage(stage: Path, name: str, output: Path, force: bool, work: Path, progress: Progress,
               version: str = "1.0") -> None:
    """Run torch-model-archiver on a staged layout into a hidden temp dir beside `output`, verify, and rename into
    place. `version` is the model version TorchServe registers it as (`lorecast retrain` makes the next ones)."""
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        # Same directory, so the final rename is atomic; hidden, so TorchServe's load_models=ALL skips it.
        export = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".partial", dir=output.parent))
    except OSError as error:
        raise LorecastError(f"{output.parent}: cannot write there ({error.strerror or error})") from None
    try:
        command = [
            *_archiver_command(), "--model-name", name, "--version", version,
            "--handler", str(stage / layout.HANDLER),
            # The stage dir, not its subdirs: the archiver copies a dir's *contents* to the archive root, so only
            # this keeps serve_handler/ and generator/ as directories (TORCHSERVE.md section 2).
            "--extra-files", str(stage),
            "--config-file", str(stage / layout.MODEL_CONFIG),
            "--export-path", str(export),
        ]
        # The archiver copies everything to $TMPDIR/<model name> first and deletes what is there: a private
        # TMPDIR keeps two builds of the same name from trampling each other.
        scratch = work / "archiver-tmp"
        scratch.mkdir()
        done = subprocess.run(command, env={**os.environ, "TMPDIR": str(scratch)}, capture_output=True, text=True)
        built = export / f"{name}.mar"
        if done.returncode != 0 or not built.is_file():
            said = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
            raise LorecastError(f"torch-model-archiver failed (exit {done.returncode}): "
                                f"{said[-1].strip() if said else 'no output'}")
        progress("verifying the archive")
        report = check_archive(built)
        if report.problems:
            raise LorecastError(f"the built archive fails its check ({len(report.problems)} problem(s)), first: "
                                f"{report.problems[0]}")
        if output.exists() and not force:
            raise LorecastError(f"{output}: appeared while building (use --force to replace it)")
        os.replace(built, output)
    finally:
        shutil.rmtree(export, ignore_errors=True)


def _lorecast_version() -> str:
    try:
        return importlib.metadata.version("lorecast")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
