"""The model dir contract: what counts as complete, and how an output dir is prepared."""

from __future__ import annotations

import json

import pytest

from lorecast.errors import LorecastError
from trainer.model_dir import METADATA_FILE, check_output_dir, prepare_output_dir, read_metadata

MODEL_FILES = ("config.json", "model.safetensors", "tokenizer.json")


def fake_model_dir(directory, metadata: str | None):
    directory.mkdir()
    for name in MODEL_FILES:
        (directory / name).write_text("{}")
    if metadata is not None:
        (directory / METADATA_FILE).write_text(metadata)
    return directory


def test_complete_dir_gives_its_metadata(tmp_path):
    model_dir = fake_model_dir(tmp_path / "m", json.dumps({"eval_loss": 1.5}))
    assert read_metadata(model_dir) == {"eval_loss": 1.5}


def test_dir_without_metadata_is_an_unfinished_save(tmp_path):
    with pytest.raises(LorecastError, match="incomplete model dir.*did not finish saving"):
        read_metadata(fake_model_dir(tmp_path / "m", None))


def test_dir_without_weights_is_not_a_model_dir(tmp_path):
    model_dir = fake_model_dir(tmp_path / "m", "{}")
    (model_dir / "model.safetensors").unlink()
    with pytest.raises(LorecastError, match="not a model dir, missing model.safetensors"):
        read_metadata(model_dir)


def test_missing_dir(tmp_path):
    with pytest.raises(LorecastError, match="no such directory"):
        read_metadata(tmp_path / "nope")


def test_broken_metadata_names_file_and_line(tmp_path):
    model_dir = fake_model_dir(tmp_path / "m", '{\n  "eval_loss": }')
    with pytest.raises(LorecastError, match=rf"{METADATA_FILE}:2: invalid JSON"):
        read_metadata(model_dir)


def test_non_empty_dir_needs_force(tmp_path):
    model_dir = fake_model_dir(tmp_path / "m", "{}")
    with pytest.raises(LorecastError, match="not empty.*--force"):
        prepare_output_dir(model_dir, force=False, resume=False)
    assert (model_dir / "model.safetensors").exists()


def test_a_file_is_no_output_dir(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(LorecastError, match="not a directory"):
        check_output_dir(tmp_path / "file", force=True, resume=False)


def test_force_empties_an_existing_dir(tmp_path):
    model_dir = fake_model_dir(tmp_path / "m", "{}")
    prepare_output_dir(model_dir, force=True, resume=False)
    assert model_dir.is_dir() and not any(model_dir.iterdir())


def test_force_never_empties_a_dir_that_is_not_a_model_dir(tmp_path):
    other = tmp_path / "photos"
    other.mkdir()
    (other / "cat.jpg").write_text("meow")
    with pytest.raises(LorecastError, match="not a model dir.*even with --force"):
        prepare_output_dir(other, force=True, resume=False)
    assert (other / "cat.jpg").read_text() == "meow"


def test_new_dir_is_created(tmp_path):
    prepare_output_dir(tmp_path / "a" / "b", force=False, resume=False)
    assert (tmp_path / "a" / "b").is_dir()


def test_resume_keeps_checkpoints_and_drops_the_metadata(tmp_path):
    model_dir = fake_model_dir(tmp_path / "m", "{}")
    (model_dir / "checkpoints" / "checkpoint-3").mkdir(parents=True)
    prepare_output_dir(model_dir, force=False, resume=True)
    assert (model_dir / "checkpoints" / "checkpoint-3").is_dir()
    assert not (model_dir / METADATA_FILE).exists()
    assert (model_dir / "model.safetensors").exists()
