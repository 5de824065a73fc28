"""ops/repack.py without TorchServe: versions, reading a .mar, and unpacking one safely (tests/poster/
test_retrain_loop.py repacks and serves a real one)."""

from __future__ import annotations

import json
import zipfile

import pytest

from lorecast.errors import LorecastError
from ops.repack import next_version, read_mar, unpack
from serve_handler import layout


def write_mar(path, members: dict[str, str]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)


def a_mar(path, version="1.0", **extra: str):
    write_mar(path, {layout.MAR_MANIFEST: json.dumps({"model": {"modelName": "lorecast", "modelVersion": version}}),
                     layout.ARCHIVE_MANIFEST: json.dumps({"format": 1}), **extra})
    return path


@pytest.mark.parametrize(("version", "following"), [("1.0", "2.0"), ("2", "3.0"), ("9.0", "10.0")])
def test_the_next_version_is_the_next_whole_number(version, following):
    assert next_version(version) == following


def test_a_version_that_is_no_number_has_no_next():
    with pytest.raises(LorecastError, match="'v1-beta' is not a number"):
        next_version("v1-beta")


def test_read_mar_gives_name_version_and_manifest(tmp_path):
    info = read_mar(a_mar(tmp_path / "m.mar", "3.0"))
    assert (info.name, info.version, info.manifest) == ("lorecast", "3.0", {"format": 1})


def test_a_file_that_is_not_a_lorecast_mar_is_named(tmp_path):
    with pytest.raises(LorecastError, match="no such .mar"):
        read_mar(tmp_path / "missing.mar")
    (tmp_path / "text.mar").write_text("not a zip", encoding="utf-8")
    with pytest.raises(LorecastError, match=r"text.mar: not a lorecast .mar"):
        read_mar(tmp_path / "text.mar")
    write_mar(tmp_path / "other.mar", {layout.MAR_MANIFEST: json.dumps({"model": {"modelName": "x",
                                                                                   "modelVersion": "1.0"}})})
    with pytest.raises(LorecastError, match=r"other.mar: not a lorecast .mar"):
        read_mar(tmp_path / "other.mar")


def test_unpack_leaves_mar_inf_out_and_refuses_paths_outside(tmp_path):
    mar = a_mar(tmp_path / "m.mar", **{"generator/config.json": "{}"})
    unpack(mar, tmp_path / "out")
    assert sorted(str(path.relative_to(tmp_path / "out")) for path in (tmp_path / "out").rglob("*")
                  if path.is_file()) == sorted([layout.ARCHIVE_MANIFEST, "generator/config.json"])

    evil = a_mar(tmp_path / "evil.mar", **{"../escaped.txt": "boo"})
    with pytest.raises(LorecastError, match="a path outside the archive"):
        unpack(evil, tmp_path / "out2")
    assert not (tmp_path / "escaped.txt").exists()
