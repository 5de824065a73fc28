"""A served `.mar` again, with another selector and the next version: what `lorecast retrain` writes.

    info = read_mar("model_store/lorecast.mar")       # MarInfo(name, version, manifest): what TorchServe registers
    unpack(mar, into)                                  # the archive's files, MAR-INF/ left out
    repack(mar, selector_dir, output, progress)        # -> MarInfo of the new .mar (version: next_version)

Everything but the selector stays as it was: generator, seed words, novelty sentences, blocklist, TorchServe and
handler settings, the worker package. lorecast-archive.json is rewritten with the new selector's hashes and says
which version it replaced; the result is packed and checked like any `lorecast archive`, and renamed into place
only when whole.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from lorecast.errors import LorecastError
from ops.archive import Progress, pack_stage
from serve_handler import layout


@dataclass(frozen=True)
class MarInfo:
    name: str  # the TorchServe model name
    version: str  # the model version TorchServe registers it as
    manifest: dict[str, Any]  # lorecast-archive.json


def read_mar(mar: str | Path) -> MarInfo:
    """The model name and version (MAR-INF/MANIFEST.json) and lorecast-archive.json of a `.mar`."""
    try:
        with zipfile.ZipFile(mar) as archive:
            model = json.loads(archive.read(layout.MAR_MANIFEST))["model"]
            manifest = json.loads(archive.read(layout.ARCHIVE_MANIFEST))
    except FileNotFoundError:
        raise LorecastError(f"{mar}: no such .mar") from None
    except (zipfile.BadZipFile, KeyError, ValueError) as error:
        raise LorecastError(f"{mar}: not a lorecast .mar ({error})") from None
    return MarInfo(str(model["modelName"]), str(model["modelVersion"]), manifest)


def next_version(version: str) -> str:
    """"1.0" -> "2.0": the next whole version (TorchServe compares versions as text, so keep them simple)."""
    try:
        return f"{int(float(version)) + 1}.0"
    except ValueError:
        raise LorecastError(f"model version {version!r} is not a number; cannot tell what comes next") from None


def unpack(mar: str | Path, into: Path) -> None:
    """Every file of the archive under `into`, but MAR-INF/ (the archiver writes it again)."""
    with zipfile.ZipFile(mar) as archive:
        for member in archive.infolist():
            if member.is_dir() or member.filename.startswith("MAR-INF/"):
                continue
            target = (into / member.filename).resolve()
            if into.resolve() not in target.parents:
                raise LorecastError(f"{mar}: holds a path outside the archive: {member.filename}")
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as reader, open(target, "wb") as writer:
                shutil.copyfileobj(reader, writer)


def repack(mar: str | Path, selector_dir: str | Path, output: str | Path, progress: Progress = lambda line: None,
           force: bool = False) -> MarInfo:
    """Write `output`: `mar` with the selector of `selector_dir`, as the next version of the same model."""
    from trainer.selector_dir import read_selector_dir

    output = Path(output)
    if output.exists() and not force:
        raise LorecastError(f"{output}: already exists (use --force to replace it)")
    old = read_mar(mar)
    version = next_version(old.version)
    selector_files = read_selector_dir(Path(selector_dir))
    with tempfile.TemporaryDirectory(prefix="lorecast-repack-") as work:
        stage = Path(work) / "stage"
        progress(f"unpacking {mar}")
        unpack(mar, stage)
        shutil.rmtree(stage / layout.SELECTOR_DIR, ignore_errors=True)
        files = {path: entry for path, entry in old.manifest["files"].items()
                 if not path.startswith(f"{layout.SELECTOR_DIR}/")}
        for source in selector_files:
            relative = f"{layout.SELECTOR_DIR}/{source.name}"
            (stage / layout.SELECTOR_DIR).mkdir(exist_ok=True)
            data = source.read_bytes()
            (stage / relative).write_bytes(data)
            files[relative] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
        manifest = {**old.manifest, "files": dict(sorted(files.items())),
                    "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "selector": {"source": str(Path(selector_dir).resolve()), "replaces_version": old.version}}
        (stage / layout.ARCHIVE_MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        progress(f"packing version {version} of {old.name} with torch-model-archiver")
        pack_stage(stage, old.name, output, force, Path(work), progress, version=version)
    return MarInfo(old.name, version, manifest)
