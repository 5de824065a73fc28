"""The request schema as the Markdown table in the README, so the README cannot drift from the schema.

    .venv/bin/python -m ops.schema_doc      # prints the table; paste it between the README's markers

tests/serve_handler/test_schema_doc.py fails when the README's table differs from this output.
"""

from __future__ import annotations

from typing import Any

from serve_handler.request import REQUEST_SCHEMA

BEGIN, END = "<!-- request-schema:begin -->", "<!-- request-schema:end -->"


def _type(spec: dict[str, Any]) -> str:
    if spec["type"] == "object":
        fields = ", ".join(
            f"`{name}` {_bounds(inner)} default {inner['default']}" for name, inner in spec["properties"].items()
        )
        return f"object: {fields}"
    return f"{spec['type']} {_bounds(spec)}".rstrip()


def _bounds(spec: dict[str, Any]) -> str:
    low = spec.get("minimum", spec.get("minLength"))
    low_open = "exclusiveMinimum" in spec
    low = spec.get("exclusiveMinimum", low)
    high = spec.get("maximum", spec.get("maxLength"))
    if low is None and high is None:
        return ""
    unit = " chars" if "minLength" in spec or "maxLength" in spec else ""
    return f"{'(' if low_open else '['}{low}, {high}]{unit}"


def _default(spec: dict[str, Any]) -> str:
    if "default" in spec:
        return f"`{spec['default']}`"
    if spec["type"] == "object":
        return "off"
    return "—"


def render() -> str:
    rows = ["| field | type and bounds | default | meaning |", "|---|---|---|---|"]
    for name, spec in REQUEST_SCHEMA["properties"].items():
        rows.append(f"| `{name}` | {_type(spec)} | {_default(spec)} | {spec['description']} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(render())
