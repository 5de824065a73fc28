"""The request and response schemas as the Markdown tables in the README, so the README cannot drift from them.

    .venv/bin/python -m ops.schema_doc      # prints both tables, each between its README markers, to paste

tests/ops/test_schema_doc.py fails when a README table differs from this output.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from serve_handler.request import ERROR_SCHEMA, REQUEST_SCHEMA, RESPONSE_SCHEMA

BEGIN, END = "<!-- request-schema:begin -->", "<!-- request-schema:end -->"
RESPONSE_BEGIN, RESPONSE_END = "<!-- response-schema:begin -->", "<!-- response-schema:end -->"


def _type(spec: dict[str, Any]) -> str:
    if spec["type"] == "object":
        fields = ", ".join(
            f"`{name}` {_bounds(inner)} default {inner['default']}" for name, inner in spec["properties"].items()
        )
        return f"object: {fields}"
    kinds = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
    kind = " or ".join(kinds)
    if "enum" in spec:
        kind += ": " + " or ".join(f"`{value}`" for value in spec["enum"])
    return f"{kind} {_bounds(spec)}".rstrip()


def _bounds(spec: dict[str, Any]) -> str:
    low = spec.get("minimum", spec.get("minLength"))
    low_open = "exclusiveMinimum" in spec
    low = spec.get("exclusiveMinimum", low)
    high = spec.get("maximum", spec.get("maxLength"))
    if low is None and high is None:
        return ""
    unit = " chars" if "minLength" in spec or "maxLength" in spec else ""
    if high is None:  # the response has one-sided bounds (counts >= 0); every request bound is two-sided
        return f"of {low}+{unit}" if unit else f"{'>' if low_open else '≥'} {low}"
    if low is None:
        return f"≤ {high}{unit}"
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


def _fields(schema: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(name, type, spec) of every property, nested ones after their parent: `texts[].text`, not a nested table."""
    for name, spec in schema["properties"].items():
        items = spec.get("items", {})
        if "properties" in items:
            yield prefix + name, "array of objects", spec
            yield from _fields(items, f"{prefix}{name}[].")
        elif isinstance(spec.get("additionalProperties"), dict):  # a map such as rejected: {reason: count}
            yield prefix + name, f"object: key → {_type(spec['additionalProperties'])}", spec
        else:
            yield prefix + name, _type(spec), spec


def render_response() -> str:
    """The 200 body's table, then the 400 body's."""
    tables = []
    for status, schema in (200, RESPONSE_SCHEMA), (400, ERROR_SCHEMA):
        rows = [f"| field ({status}) | type and bounds | meaning |", "|---|---|---|"]
        rows += [f"| `{name}` | {kind} | {spec['description']} |" for name, kind, spec in _fields(schema)]
        tables.append("\n".join(rows))
    return "\n\n".join(tables)


if __name__ == "__main__":
    print(f"{BEGIN}\n{render()}\n{END}\n\n{RESPONSE_BEGIN}\n{render_response()}\n{RESPONSE_END}")
