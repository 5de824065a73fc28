from __future__ import annotations

import os

import pytest
from cli_harness import lorecast

from lorecast.errors import SourceError
from poster import inference
from poster.env_file import load_env_file, read_env_file


def test_lines_quotes_comments_and_export(tmp_path):
    path = tmp_path / ".env"
    path.write_text(
        "# keys\n\nLORECAST_A=plain\nexport LORECAST_B='single quoted'\nLORECAST_C=\"double # not a comment\"\n"
        "LORECAST_D = spaced\n",
        encoding="utf-8",
    )
    assert read_env_file(path) == {
        "LORECAST_A": "plain", "LORECAST_B": "single quoted", "LORECAST_C": "double # not a comment",
        "LORECAST_D": "spaced",
    }


def test_only_lorecast_names_are_loaded_and_the_environment_wins(tmp_path, monkeypatch):
    path = tmp_path / ".env"
    path.write_text("LORECAST_LEDGER=from-file\nLORECAST_ENDPOINT=http://file\nPATH=/nowhere\n", encoding="utf-8")
    monkeypatch.setenv("LORECAST_ENDPOINT", "http://shell")
    monkeypatch.delenv("LORECAST_LEDGER", raising=False)
    path_before = os.environ["PATH"]
    load_env_file(path)
    assert os.environ["LORECAST_LEDGER"] == "from-file"
    assert os.environ["LORECAST_ENDPOINT"] == "http://shell"
    assert os.environ["PATH"] == path_before
    monkeypatch.delenv("LORECAST_LEDGER")


def test_a_bad_line_names_the_file_and_line_but_not_the_value(tmp_path):
    path = tmp_path / ".env"
    path.write_text("LORECAST_A=1\nthis is s3cret garbage\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"\.env:2: not a NAME=value line") as error:
        read_env_file(path)
    assert "s3cret" not in str(error.value)


def test_the_cli_reads_dot_env_in_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("LORECAST_ENDPOINT=http://127.0.0.1:9/predictions/from-dotenv\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LORECAST_ENDPOINT", raising=False)
    monkeypatch.setattr(inference.time, "sleep", lambda seconds: None)  # the retries' pauses (1 + 2 + 4 s)
    code, _, err = lorecast("generate", "-n", "1", "--timeout", "1")
    monkeypatch.delenv("LORECAST_ENDPOINT", raising=False)
    assert code == 1 and "127.0.0.1:9/predictions/from-dotenv" in err
