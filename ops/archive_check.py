"""`lorecast archive --check`: read a built `.mar` and name every way it breaks contract 4 (layout.py).

Check: every layout.REQUIRED path is present, every hash listed in lorecast-archive.json (its format: archive.py)
matches, nothing unlisted is inside (a flattened package shows up here), no pickle-ish file, model-config.yaml
parses with valid TorchServe keys and `handler:` section, and MAR-INF/MANIFEST.json points at handler.py and
model-config.yaml.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml

from lorecast.errors import LorecastError
from serve_handler import layout
from serve_handler.settings import HandlerSettings, SettingsError

# Suffixes of files that are (or usually are) Python pickles: loading one runs arbitrary code.
TORCHSERVE_KEYS = ("minWorkers", "maxWorkers", "batchSize", "maxBatchDelay", "responseTimeout")


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


def read_archive_manifest(path: str | Path) -> dict:
    """The lorecast-archive.json of a `.mar` (for summaries; `check_archive` verifies it)."""
    with _open_zip(Path(path)) as archive:
        try:
            return json.loads(archive.read(layout.ARCHIVE_MANIFEST))
        except (KeyError, ValueError) as error:
            raise LorecastError(f"{path}: no readable {layout.ARCHIVE_MANIFEST} ({error})") from None


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
        if PurePosixPath(name).suffix.lower() in layout.PICKLE_SUFFIXES:
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
