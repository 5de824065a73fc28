from __future__ import annotations

from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from ops.schema_doc import BEGIN, END, RESPONSE_BEGIN, RESPONSE_END, render, render_response
from serve_handler.request import ERROR_SCHEMA, REQUEST_SCHEMA, RESPONSE_SCHEMA

README = Path(__file__).resolve().parents[2] / "README.md"
BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "minLength", "maxLength")


def _between(begin: str, end: str) -> str:
    return README.read_text(encoding="utf-8").split(begin, 1)[1].split(end, 1)[0].strip()


def test_the_readme_shows_the_request_schema_as_it_is():
    assert _between(BEGIN, END) == render(), "README's request table is stale: python -m ops.schema_doc"


def test_the_readme_shows_the_response_schema_as_it_is():
    assert _between(RESPONSE_BEGIN, RESPONSE_END) == render_response(), (
        "README's response tables are stale: python -m ops.schema_doc"
    )


def test_every_field_and_bound_is_in_the_table():
    table = render()
    for name, spec in REQUEST_SCHEMA["properties"].items():
        row = next(line for line in table.splitlines() if line.startswith(f"| `{name}` "))
        for key in (*BOUNDS, "default"):
            if key in spec:
                assert str(spec[key]) in row, (name, key)


def _nested(schema: dict, prefix: str = ""):
    """(row name, spec) of every property, the way the response table names them (texts[].text)."""
    for name, spec in schema["properties"].items():
        yield prefix + name, spec
        if "properties" in spec.get("items", {}):
            yield from _nested(spec["items"], f"{prefix}{name}[].")


@pytest.mark.parametrize("schema", [RESPONSE_SCHEMA, ERROR_SCHEMA], ids=["200", "400"])
def test_every_response_field_has_a_row_with_its_bounds_and_description(schema):
    rows = render_response().splitlines()
    for name, spec in _nested(schema):
        row = next(line for line in rows if line.startswith(f"| `{name}` "))
        assert spec["description"] in row, name
        for key in BOUNDS:
            if key in spec:
                assert str(spec[key]) in row, (name, key)


def test_the_schemas_are_valid_and_every_response_object_is_closed():
    for schema in (REQUEST_SCHEMA, RESPONSE_SCHEMA, ERROR_SCHEMA):
        Draft202012Validator.check_schema(schema)
    # Each object names all its fields, every one always there, and allows no other (rejected is a map).
    for closed in (RESPONSE_SCHEMA, RESPONSE_SCHEMA["properties"]["texts"]["items"], ERROR_SCHEMA):
        assert closed["additionalProperties"] is False
        assert set(closed["required"]) == set(closed["properties"])
