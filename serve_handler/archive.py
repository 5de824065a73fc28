"""`lorecast archive`: build a `.mar` (contract 4, see layout.py) and check one. Runs outside TorchServe.

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
    corpus             {"source": corpus dir, "content_hash", "seed_words", "novelty_sentences"}
    blocklist          {"sources": [file, ...], "terms": int}
    options            {"workers", "batch_size", "max_batch_delay", "response_timeout", "handler": {...}}

Check: every layout.REQUIRED path is present, every hash listed in lorecast-archive.json matches, nothing
unlisted is inside (a flattened package shows up here), no pickle-ish file, model-config.yaml parses with valid
TorchServe keys and `handler:` section, and MAR-INF/MANIFEST.json points at handler.py and model-config.yaml.
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
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

import yaml

from dataset.errors import LorecastError, SourceError
from serve_handler import layout
from serve_handler.blocklist import Blocklist
from serve_handler.settings import HandlerSettings, SettingsError

MANIFEST_FORMAT = 1
# Suffixes of files that are (or usually are) Python pickles: loading one runs arbitrary code.
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
PACKAGE_SUFFIXES = (".py", ".json", ".md")
# torch-model-archiver's own rule for --model-name; checked here so the user gets it before any staging.
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-.]*")
TORCHSERVE_KEYS = ("minWorkers", "maxWorkers", "batchSize", "maxBatchDelay", "responseTimeout")

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


@dataclass(frozen=True)
class ArchiveEntry:
    path: str
    bytes: int
    sha256: str  # "" when the member cannot be read (a problem says why)


@dataclass(frozen=True)
class ArchiveReport:
    path: Path
    entries: list[ArchiveEntry]
    problems: list[str]  # one line each, naming the member


# ---------------------------------------------------------------------------------------------- build


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
    from dataset.corpus import TRAIN_FILE, WORDS_FILE, load_corpus
    from trainer.model_dir import read_metadata

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
    selector_files = _selector_files(Path(selector_dir)) if selector_dir is not None else []
    if importlib.util.find_spec("model_archiver") is None:
        raise LorecastError("torch-model-archiver is not installed (pip install 'lorecast[serve]')")
    if training.get("corpus_content_hash") not in (None, corpus.content_hash):
        progress(f"warning: the model was trained on corpus {training['corpus_content_hash']}, "
                 f"not on {corpus_dir} ({corpus.content_hash}); novelty is measured against {corpus_dir}")

    with tempfile.TemporaryDirectory(prefix="lorecast-archive-") as work:
        stage = Path(work) / "stage"
        progress("staging files")
        files = _stage(stage, model_dir, corpus_dir / WORDS_FILE, corpus_dir / TRAIN_FILE, selector_files, terms,
                       options)
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
            },
            "blocklist": {"sources": [str(path.resolve()) for path in blocklists], "terms": len(terms)},
            "options": asdict(options),
        }
        # Not listed in `files`: it cannot hold its own hash.
        _write(stage, layout.ARCHIVE_MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode("utf-8"), {})
        total = sum(entry["bytes"] for entry in files.values())
        progress(f"packing {len(files) + 1} files ({format_size(total)}) with torch-model-archiver")
        _pack(stage, name, output, force, Path(work), progress)
    return output


def _stage(stage: Path, model_dir: Path, words: Path, sentences: Path, selector_files: list[Path],
           terms: list[str], options: ServingOptions) -> dict[str, dict]:
    """Write every layout path but lorecast-archive.json under `stage`; returns {path: {sha256, bytes}}."""
    files: dict[str, dict] = {}
    package = Path(__file__).parent
    _copy(package / layout.HANDLER, stage, layout.HANDLER, files)
    for source in _package_files(package):
        _copy(source, stage, f"{layout.PACKAGE_DIR}/{source.relative_to(package).as_posix()}", files)
    for file_name in layout.GENERATOR_FILES:
        _copy(model_dir / file_name, stage, f"{layout.GENERATOR_DIR}/{file_name}", files)
    for source in selector_files:
        _copy(source, stage, f"{layout.SELECTOR_DIR}/{source.name}", files)
    _copy(words, stage, layout.SEED_WORDS, files)
    _copy(sentences, stage, layout.NOVELTY_SENTENCES, files)
    _write(stage, layout.BLOCKLIST, "".join(term + "\n" for term in terms).encode("utf-8"), files)
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


def read_blocklists(paths: Iterable[Path]) -> list[str]:
    """The terms of blocklist files, in order, without repeats: one per line, '#' starts a comment (the rule of
    serve_handler.blocklist.read_terms, which reads blocklist.txt in the worker)."""
    terms: dict[str, None] = {}
    for path in paths:
        for number, line in _lines(path):
            term = line.split("#", 1)[0].strip()
            if not term:
                continue
            try:  # a term the worker's Blocklist cannot match would stop the worker from starting
                Blocklist((term,))
            except ValueError as error:
                raise SourceError(path, f"{error} (--blocklist)", number) from None
            terms.setdefault(term)
    return list(terms)


def format_size(size: float) -> str:
    if size < 1000:
        return f"{size} B"
    for unit in ("KB", "MB"):
        size /= 1000
        if size < 1000:
            return f"{size:.1f} {unit}"
    return f"{size / 1000:.1f} GB"


def read_archive_manifest(path: str | Path) -> dict:
    """The lorecast-archive.json of a `.mar` (for summaries; `check_archive` verifies it)."""
    with _open_zip(Path(path)) as archive:
        try:
            return json.loads(archive.read(layout.ARCHIVE_MANIFEST))
        except (KeyError, ValueError) as error:
            raise LorecastError(f"{path}: no readable {layout.ARCHIVE_MANIFEST} ({error})") from None


def _lines(path: Path) -> Iterable[tuple[int, str]]:
    from dataset.sources.textio import iter_lines

    try:
        yield from iter_lines(path)
    except SourceError as error:  # say which option named the file
        raise SourceError(error.path, f"{error.reason} (--blocklist)", error.line) from None


def _check_output(output: Path, force: bool) -> None:
    if output.is_dir():
        raise LorecastError(f"{output}: is a directory; give the .mar file to write")
    if output.exists() and not force:
        raise LorecastError(f"{output}: already exists (use --force to replace it)")
    if output.parent.exists() and not output.parent.is_dir():
        raise LorecastError(f"{output.parent}: not a directory")


def _selector_files(directory: Path) -> list[Path]:
    """The top-level files of a selector dir. Contract 3 is still open: for now it must hold a JSON config and
    safetensors weights, and a pickle anywhere in it is refused."""
    if not directory.is_dir():
        raise LorecastError(f"{directory}: not a selector dir (no such directory)")
    pickles = sorted(str(path.relative_to(directory)) for path in directory.rglob("*")
                     if path.suffix.lower() in PICKLE_SUFFIXES)
    if pickles:
        raise LorecastError(
            f"{directory}: refusing pickle file(s) {', '.join(pickles)} (loading a pickle runs code; "
            "a selector dir holds safetensors weights and a JSON config)"
        )
    files = sorted(path for path in directory.iterdir() if path.is_file() and not path.name.startswith("."))
    for suffix, what in ((".json", "a JSON config"), (".safetensors", "safetensors weights")):
        if not any(path.suffix == suffix for path in files):
            raise LorecastError(f"{directory}: not a selector dir, no *{suffix} file ({what})")
    return files


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


def _pack(stage: Path, name: str, output: Path, force: bool, work: Path, progress: Progress) -> None:
    """Run torch-model-archiver into a hidden temp dir beside `output`, verify, and rename into place."""
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        # Same directory, so the final rename is atomic; hidden, so TorchServe's load_models=ALL skips it.
        export = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".partial", dir=output.parent))
    except OSError as error:
        raise LorecastError(f"{output.parent}: cannot write there ({error.strerror or error})") from None
    try:
        command = [
            *_archiver_command(), "--model-name", name, "--version", "1.0",
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


# ---------------------------------------------------------------------------------------------- check


def check_archive(path: str | Path) -> ArchiveReport:
    """List the files of a `.mar` with size and sha256, and every way it breaks contract 4 (module docstring)."""
    path = Path(path)
    with _open_zip(path) as archive:
        infos = [info for info in archive.infolist() if not info.is_dir()]
        problems: list[str] = []
        entries = [_entry(archive, info, problems) for info in infos]
        members = {info.filename: info for info in infos}
        problems += _path_problems([entry.path for entry in entries])
        problems += [f"{required}: missing (required by the archive layout)"
                     for required in layout.REQUIRED if required not in members]
        problems += _listing_problems(archive, members, entries)
        if layout.MODEL_CONFIG in members:
            problems += _model_config_problems(archive.read(members[layout.MODEL_CONFIG]))
        if layout.MAR_MANIFEST in members:
            problems += _mar_manifest_problems(archive.read(members[layout.MAR_MANIFEST]))
    return ArchiveReport(path, entries, problems)


def _open_zip(path: Path) -> zipfile.ZipFile:
    if not path.is_file():
        raise LorecastError(f"{path}: no such file")
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise LorecastError(f"{path}: not a .mar (zip) archive ({error})") from None


def _entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, problems: list[str]) -> ArchiveEntry:
    digest = hashlib.sha256()
    try:
        with archive.open(info) as member:
            for block in iter(lambda: member.read(1 << 20), b""):
                digest.update(block)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as error:
        problems.append(f"{info.filename}: unreadable ({error})")
        return ArchiveEntry(info.filename, info.file_size, "")
    return ArchiveEntry(info.filename, info.file_size, digest.hexdigest())


def _path_problems(paths: list[str]) -> list[str]:
    problems = [f"{name}: appears {count} times in the archive" for name, count in Counter(paths).items()
                if count > 1]
    for name in dict.fromkeys(paths):
        parts = PurePosixPath(name).parts
        if name.startswith("/") or ".." in parts or "\\" in name:
            problems.append(f"{name}: unsafe path (absolute or leaving the model dir)")
        if "__pycache__" in parts:
            problems.append(f"{name}: compiled cache file (the archive holds sources only)")
        if PurePosixPath(name).suffix.lower() in PICKLE_SUFFIXES:
            problems.append(f"{name}: pickle file (loading one runs code; weights must be safetensors)")
    return problems


def _listing_problems(archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo],
                      entries: list[ArchiveEntry]) -> list[str]:
    """Every hash in lorecast-archive.json matches, and every member (but the two manifests) is listed."""
    if layout.ARCHIVE_MANIFEST not in members:
        return []  # already reported as missing
    try:
        listed = json.loads(archive.read(members[layout.ARCHIVE_MANIFEST]))["files"]
        if not isinstance(listed, dict):
            raise TypeError("'files' is not an object")
    except (ValueError, KeyError, TypeError) as error:
        return [f"{layout.ARCHIVE_MANIFEST}: unreadable file list ({type(error).__name__}: {error})"]
    found = {entry.path: entry for entry in entries}
    problems = []
    for name, expected in listed.items():
        entry = found.get(name)
        if entry is None:
            problems.append(f"{name}: listed in {layout.ARCHIVE_MANIFEST} but not in the archive")
        elif not isinstance(expected, dict) or expected.get("sha256") != entry.sha256:
            problems.append(f"{name}: sha256 does not match {layout.ARCHIVE_MANIFEST} (changed or corrupt)")
        elif expected.get("bytes") != entry.bytes:
            problems.append(f"{name}: {entry.bytes} bytes, {layout.ARCHIVE_MANIFEST} says {expected.get('bytes')}")
    unlisted = set(found) - set(listed) - {layout.ARCHIVE_MANIFEST, layout.MAR_MANIFEST}
    problems += [f"{name}: not listed in {layout.ARCHIVE_MANIFEST} (added after the build, or a flattened file)"
                 for name in sorted(unlisted)]
    return problems


def _model_config_problems(data: bytes) -> list[str]:
    try:
        config = yaml.safe_load(data)
    except yaml.YAMLError as error:
        return [f"{layout.MODEL_CONFIG}: invalid YAML ({' '.join(str(error).split())})"]
    if not isinstance(config, dict):
        return [f"{layout.MODEL_CONFIG}: not a mapping of settings"]
    problems = []
    for key in TORCHSERVE_KEYS:
        value = config.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            problems.append(f"{layout.MODEL_CONFIG}: {key} must be a whole number >= 0, got {value!r}")
    section = config.get("handler")
    if not isinstance(section, dict):
        problems.append(f"{layout.MODEL_CONFIG}: no handler: section (the handler's settings)")
    else:
        try:
            HandlerSettings.from_section(section)
        except SettingsError as error:
            problems.append(f"{layout.MODEL_CONFIG}: {error}")
    return problems


def _mar_manifest_problems(data: bytes) -> list[str]:
    try:
        model = json.loads(data)["model"]
    except (ValueError, KeyError, TypeError) as error:
        return [f"{layout.MAR_MANIFEST}: unreadable ({type(error).__name__}: {error})"]
    problems = []
    for key, wanted in (("handler", layout.HANDLER), ("configFile", layout.MODEL_CONFIG)):
        if model.get(key) != wanted:
            problems.append(f"{layout.MAR_MANIFEST}: model.{key} is {model.get(key)!r}, expected {wanted!r}")
    return problems
