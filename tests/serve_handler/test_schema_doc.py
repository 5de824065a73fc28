from __future__ import annotations

from pathlib import Path

from serve_handler.request import REQUEST_SCHEMA
from ops.schema_doc import BEGIN, END, render

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_shows_the_request_schema_as_it_is():
    text = README.read_text(encoding="utf-8")
    table = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert table == render(), "README's request table is stale: python -m ops.schema_doc"


def test_every_field_and_bound_is_in_the_table():
    table = render()
    for name, spec in REQUEST_SCHEMA["properties"].items():
        row = next(line for line in table.splitlines() if line.startswith(f"| `{name}` "))
        for key in ("minimum", "maximum", "exclusiveMinimum", "minLength", "maxLength", "default"):
            if key in spec:
                assert str(spec[key]) in row, (name, key)
