"""The inference request contract: read one request body into a `GenerationRequest`, or say in one line why not.

`request_schema.json` (next to this file) is the one source of truth for the fields, their bounds, their defaults
and their descriptions; the README renders it, and `parse_request` validates against it and takes the defaults
from it. `REQUEST_SCHEMA` is that schema, loaded once.

The answer's contract is loaded here too, beside it: `RESPONSE_SCHEMA` (`response_schema.json`) is the body of a
200, what service.py's `GenerationService._response` builds, and `ERROR_SCHEMA` (its `$defs/error`) the body of
a 400, `{"error": str(RequestError)}` (handler.py). The worker does not validate its answers at run time (their
shape is fixed in code; checking would cost every request): the service and TorchServe tests validate every
answer, and the README tables, the poster's client and its test stand-in read the same file.

    parse_request(body, content_type) -> GenerationRequest    or raises RequestError (a ValueError)
    request_from_fields({"n": 2, ...}) -> GenerationRequest   the same parse, for callers in this process

`body` is the raw body as it was sent (bytes, or text): one parse path for every request. The handler turns
TorchServe's own JSON decoding off (handler.py), because a body decoded before it gets here could no longer be
checked for duplicate keys, for its size, or for being a JSON string that holds an object. A body that arrives
decoded anyway (a dict, a list) is refused.

`content_type` is the request's Content-Type header with its parameters (TorchServe's per-parameter content type
has them stripped, so pass the request header). It must be `application/json`, optionally with
`charset=utf-8` and nothing else.

What is refused, each with one line naming the field (or the body) and the problem: a missing or wrong content
type, a body over `MAX_BODY_BYTES`, an empty body, bytes that are not UTF-8, text that is not JSON, duplicate
keys, nesting too deep to read, integer literals too long to read, a top-level value that is not an object,
NaN and infinite numbers anywhere (including 1e999, which reads as infinity), strings anywhere with lone
surrogates (they cannot be written back as UTF-8), and whatever breaks the schema: unknown fields, wrong types
(true is not a number), values out of bounds, control characters in seed or prompt (reply_to may hold line breaks
and tabs), seed with prompt, reply_to with seed or prompt, mirostat with top_k, top_p or typical_p, and a
reply_to with nothing left once its @-mentions, links and conversation tags are dropped, or over 1000
characters after that and once its whitespace runs are collapsed (reply.py spoken_text).

When mirostat is given, top_k, top_p and typical_p resolve to their "off" values (0, 1.0, 1.0) instead of their
defaults: Mirostat truncates on its own and must be the last warper (see mirostat.py).
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from serve_handler.reply import MAX_SAID_CHARS, spoken_text

MAX_BODY_BYTES = 64 * 1024
# Far beyond any bound in the schema, short enough that int() stays cheap (CPython refuses > 4300 digits anyway).
_MAX_INTEGER_DIGITS = 100
_MESSAGE_VALUE_CHARS = 60
_TRUNCATION_OFF = {"top_k": 0, "top_p": 1.0, "typical_p": 1.0}

_HERE = Path(__file__).resolve().parent
REQUEST_SCHEMA: dict[str, Any] = json.loads((_HERE / "request_schema.json").read_text(encoding="utf-8"))
RESPONSE_SCHEMA: dict[str, Any] = json.loads((_HERE / "response_schema.json").read_text(encoding="utf-8"))
ERROR_SCHEMA: dict[str, Any] = RESPONSE_SCHEMA["$defs"]["error"]
_VALIDATOR = Draft202012Validator(REQUEST_SCHEMA)


class RequestError(ValueError):
    """A request the handler answers with HTTP 400; the message is one line naming the field and the problem."""


@dataclass(frozen=True)
class Mirostat:
    """Mirostat v2 settings, as `MirostatLogitsWarper(tau, eta)` takes them."""

    tau: float
    eta: float


@dataclass(frozen=True)
class GenerationRequest:
    """One validated request with every field resolved (see request_schema.json for what each means)."""

    n: int
    seed: str | None
    prompt: str | None
    reply_to: str | None  # what was said, as spoken_text (reply.py) cleaned it
    max_new_tokens: int
    temperature: float
    top_k: int
    top_p: float
    typical_p: float
    mirostat: Mirostat | None
    candidates: int
    min_novelty: float
    explore: float
    rng_seed: int | None


def parse_request(body: bytes | bytearray | str | None, content_type: str | None) -> GenerationRequest:
    """Validate one raw request body against `REQUEST_SCHEMA` and resolve its defaults; raise RequestError if bad."""
    _check_content_type(content_type)
    if body is not None and not isinstance(body, (bytes, bytearray, str)):
        raise RequestError("body reached the handler already decoded, so it cannot be checked: send it as raw "
                           "bytes (TorchServe's decode_input_request must be false)")
    document = _decode(body or b"")
    _check_values(document)
    error = best_match(_VALIDATOR.iter_errors(document))
    if error is not None:
        raise RequestError(_describe(error))
    return _resolve(document)


def request_from_fields(fields: dict[str, Any]) -> GenerationRequest:
    """The request these fields make, read through `parse_request` like any body (for in-process callers)."""
    return parse_request(json.dumps(fields, allow_nan=True), "application/json")


def _check_content_type(content_type: str | None) -> None:
    if content_type is None or not content_type.strip():
        raise RequestError("Content-Type is missing: send application/json")
    media_type, *parameters = content_type.split(";")
    if media_type.strip().lower() != "application/json":
        raise RequestError(f"Content-Type must be application/json, got {_show(content_type)}")
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() != "charset":
            raise RequestError(f"Content-Type parameter {_show(name.strip())} is not supported (only charset=utf-8)")
        if value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise RequestError(f"Content-Type charset must be utf-8, got {_show(value.strip())}")


def _decode(body: bytes | bytearray | str) -> object:
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else bytes(body)
    _check_size(len(raw))
    if not raw.strip():
        raise RequestError('body is empty: send a JSON object such as {"n": 1}')
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RequestError(f"body is not valid UTF-8 at byte {error.start}") from None
    try:
        return json.loads(text, object_pairs_hook=_object_without_duplicates, parse_int=_bounded_int)
    except json.JSONDecodeError as error:
        raise RequestError(f"body is not valid JSON at line {error.lineno} column {error.colno}: {error.msg}") from None
    except RecursionError:
        raise RequestError("body is nested too deeply to read") from None


def _check_size(size: int) -> None:
    if size > MAX_BODY_BYTES:
        limit = f"{MAX_BODY_BYTES} bytes ({MAX_BODY_BYTES // 1024} KiB)"
        raise RequestError(f"body is {size} bytes, over the limit of {limit}")


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise RequestError(f"duplicate field {_show(key)}")
        document[key] = value
    return document


def _bounded_int(literal: str) -> int:
    digits = len(literal.lstrip("-"))
    if digits > _MAX_INTEGER_DIGITS:
        raise RequestError(f"body has an integer literal of {digits} digits, more than {_MAX_INTEGER_DIGITS}")
    return int(literal)


def _walk(document: object) -> Iterator[tuple[list[str | int], object]]:
    """Every value with its path, depth first; iterative, as a decoded body may nest deeper than Python recurses."""
    stack: list[tuple[list[str | int], object]] = [([], document)]
    while stack:
        path, value = stack.pop()
        yield path, value
        if isinstance(value, dict):
            stack.extend(([*path, key], item) for key, item in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend(([*path, index], item) for index, item in reversed(list(enumerate(value))))


def _check_values(document: object) -> None:
    """What JSON Schema cannot see: NaN passes every bound, and a lone surrogate is a valid str but not UTF-8."""
    for path, value in _walk(document):
        if isinstance(value, float) and not math.isfinite(value):
            raise RequestError(f"{_field(path)}: must be a finite number, got {_render(value)}")
        if isinstance(value, dict):
            for key in value:
                _check_encodable(key, f"field name {_show(key)}")
        if isinstance(value, str):
            _check_encodable(value, _field(path))


def _check_encodable(text: str, what: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise RequestError(
            f"{what}: contains a lone surrogate (U+{ord(text[error.start]):04X}) at position {error.start}"
        ) from None


def _describe(error: ValidationError) -> str:
    """One line for the client; jsonschema's own messages repeat the whole value, which may be long or odd."""
    field = _field(list(error.absolute_path))
    keyword, bound, value = error.validator, error.validator_value, error.instance
    if keyword == "additionalProperties":
        unknown = next(key for key in value if key not in error.schema.get("properties", {}))
        known = list(error.schema.get("properties", {}))
        hint = difflib.get_close_matches(unknown, known, n=1)
        where = f" in {field}" if error.absolute_path else ""
        suggestion = f" (did you mean {_show(hint[0])}?)" if hint else ""
        return f"unknown field {_show(unknown)}{where}{suggestion}"
    if keyword == "not" and "pattern" in bound:
        # {"not": {"type": "string", "pattern": "[...]"}} names the characters a string may not contain, so the
        # first match is the culprit.
        culprit = re.search(bound["pattern"], value)
        return f"{field}: character U+{ord(culprit.group()):04X} at position {culprit.start()} is not allowed"
    if keyword == "not" and error.absolute_schema_path[0] == "dependentSchemas":
        trigger = error.absolute_schema_path[1]
        conflicting = [name for name in _required_names(bound) if name in value]
        return f"{', '.join(conflicting)}: not allowed together with {trigger}"
    if keyword == "type":
        article = "an" if bound[0] in "aeiou" else "a"
        return f"{field}: must be {article} {bound}, got {_render(value)}"
    comparisons = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}
    if keyword in comparisons:
        return f"{field}: must be {comparisons[keyword]} {bound}, got {_render(value)}"
    if keyword == "minLength":
        return f"{field}: must be at least {bound} characters, got {len(value)}"
    if keyword == "maxLength":
        return f"{field}: must be at most {bound} characters, got {len(value)}"
    return f"{field}: {_shorten(error.message)}"


def _required_names(schema: object) -> list[str]:
    """The field names under every `required` inside a (not / anyOf) subschema, in order."""
    if isinstance(schema, dict):
        nested = [name for item in schema.get("anyOf", []) for name in _required_names(item)]
        return list(schema.get("required", [])) + nested
    return []


def _resolve(document: dict[str, Any]) -> GenerationRequest:
    if "mirostat" in document:
        document = {**_TRUNCATION_OFF, **document}
    values = _with_defaults(document, REQUEST_SCHEMA)
    if values["reply_to"] is not None:
        values["reply_to"] = _said(values["reply_to"])
    if values["mirostat"] is not None:
        values["mirostat"] = Mirostat(**_with_defaults(values["mirostat"], REQUEST_SCHEMA["properties"]["mirostat"]))
    return GenerationRequest(**values)


def _said(reply_to: str) -> str:
    said = spoken_text(reply_to)
    if not said:
        raise RequestError("reply_to: nothing is left once its @-mentions, links and tags are dropped")
    if len(said) > MAX_SAID_CHARS:
        raise RequestError(f"reply_to: must be at most {MAX_SAID_CHARS} characters once its @-mentions, links and "
                           f"tags are dropped and its whitespace runs collapsed, got {len(said)}")
    return said


def _with_defaults(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Every property of `schema`: the given value, else its default, else None; numbers as the type the schema says."""
    resolved = {}
    for name, rule in schema["properties"].items():
        value = document.get(name, rule.get("default"))
        # JSON Schema counts 2.0 as an integer and 2 as a number; the dataclass wants int and float.
        if value is not None and rule["type"] == "integer":
            value = int(value)
        elif value is not None and rule["type"] == "number":
            value = float(value)
        resolved[name] = value
    return resolved


def _field(path: list[str | int]) -> str:
    if not path:
        return "body"
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path).lstrip(".")


def _render(value: object) -> str:
    """A value as JSON, in one short printable line."""
    if isinstance(value, str):
        return _show(value)
    return _shorten(json.dumps(value, ensure_ascii=True))


def _show(text: str) -> str:
    """A string quoted, with anything unprintable (controls, surrogates, line breaks) escaped, cut when long."""
    escaped = "".join(char if char.isprintable() else char.encode("unicode_escape").decode("ascii") for char in text)
    return "'" + _shorten(escaped) + "'"


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MESSAGE_VALUE_CHARS else text[: _MESSAGE_VALUE_CHARS - 1] + "…"

