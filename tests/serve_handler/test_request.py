"""The inference request contract (serve_handler.request): schema, defaults, bounds, and every way a body is bad."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from jsonschema import Draft202012Validator

from serve_handler.request import (
    MAX_BODY_BYTES,
    REQUEST_SCHEMA,
    GenerationRequest,
    Mirostat,
    RequestError,
    parse_request,
    request_from_fields,
)

JSON = "application/json"


def parse(body: object, content_type: str | None = JSON) -> GenerationRequest:
    return parse_request(body, content_type)


def refused(body: object, content_type: str | None = JSON) -> str:
    with pytest.raises(RequestError) as caught:
        parse_request(body, content_type)
    message = str(caught.value)
    assert "\n" not in message and len(message) < 200, message
    return message


def encoded(document: object) -> bytes:
    return json.dumps(document).encode("utf-8")


# --- the schema itself -------------------------------------------------------------------------------------------


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    Draft202012Validator.check_schema(REQUEST_SCHEMA)
    assert REQUEST_SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_every_field_is_described_and_every_default_obeys_its_own_rule() -> None:
    fields = {**REQUEST_SCHEMA["properties"], **REQUEST_SCHEMA["properties"]["mirostat"]["properties"]}
    for name, rule in fields.items():
        assert rule.get("description"), name
        if "default" in rule:
            assert Draft202012Validator(rule).is_valid(rule["default"]), name


def test_dataclass_has_exactly_the_schema_fields_in_order() -> None:
    assert [field.name for field in dataclasses.fields(GenerationRequest)] == list(REQUEST_SCHEMA["properties"])
    mirostat_fields = list(REQUEST_SCHEMA["properties"]["mirostat"]["properties"])
    assert [field.name for field in dataclasses.fields(Mirostat)] == mirostat_fields


# --- defaults ----------------------------------------------------------------------------------------------------


def test_empty_object_takes_every_default_from_the_schema() -> None:
    request = parse(b"{}")
    for name, rule in REQUEST_SCHEMA["properties"].items():
        assert getattr(request, name) == rule.get("default"), name
    assert request.seed is None and request.prompt is None and request.mirostat is None and request.rng_seed is None


def test_given_fields_win_and_the_rest_keep_their_defaults() -> None:
    request = parse(encoded({"n": 3, "seed": "hacker", "temperature": 0.7, "rng_seed": 42}))
    assert (request.n, request.seed, request.temperature, request.rng_seed) == (3, "hacker", 0.7, 42)
    assert request.max_new_tokens == REQUEST_SCHEMA["properties"]["max_new_tokens"]["default"]
    assert request.top_p == REQUEST_SCHEMA["properties"]["top_p"]["default"]


def test_numbers_come_back_as_the_type_the_schema_names() -> None:
    # JSON Schema counts 2.0 as an integer and 2 as a number; the handler gets int and float.
    request = parse(b'{"n": 2.0, "temperature": 2, "rng_seed": 7.0}')
    assert request.n == 2 and type(request.n) is int
    assert request.rng_seed == 7 and type(request.rng_seed) is int
    assert request.temperature == 2.0 and type(request.temperature) is float


def test_request_is_frozen_and_hashable_so_the_handler_can_bucket_by_it() -> None:
    request = parse(b'{"mirostat": {"tau": 4}}')
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.n = 5  # type: ignore[misc]
    assert hash(request) == hash(parse(b'{"mirostat": {"tau": 4.0}}'))


# --- bounds, both sides ------------------------------------------------------------------------------------------

BOUNDS = [
    # field, lowest accepted, highest accepted, just below, just above
    ("n", 1, 16, 0, 17),
    ("max_new_tokens", 1, 256, 0, 257),
    ("temperature", 1e-6, 5, 0, 5.001),
    ("top_k", 0, 1000, -1, 1001),
    ("top_p", 1e-6, 1, 0, 1.0001),
    ("typical_p", 1e-6, 1, 0, 1.0001),
    ("candidates", 1, 8, 0, 9),
    ("min_novelty", 0, 1, -0.01, 1.01),
    ("rng_seed", 0, 2**63 - 1, -1, 2**63),
]


@pytest.mark.parametrize(("field", "lowest", "highest", "below", "above"), BOUNDS)
def test_bounds_hold_on_both_sides(field: str, lowest: float, highest: float, below: float, above: float) -> None:
    assert getattr(parse(encoded({field: lowest})), field) == lowest
    assert getattr(parse(encoded({field: highest})), field) == highest
    for outside in (below, above):
        message = refused(encoded({field: outside}))
        assert message.startswith(f"{field}: must be ") and f"got {outside}" in message


@pytest.mark.parametrize(("field", "below", "above"), [("tau", 0, 20.5), ("eta", -0.1, 1.5)])
def test_mirostat_bounds_name_the_nested_field(field: str, below: float, above: float) -> None:
    for outside in (below, above):
        assert refused(encoded({"mirostat": {field: outside}})).startswith(f"mirostat.{field}: must be ")


def test_temperature_message_says_the_bound_and_the_value() -> None:
    assert refused(b'{"temperature": -1}') == "temperature: must be > 0, got -1"


@pytest.mark.parametrize(
    ("field", "short", "long"),
    [("seed", "", "x" * 51), ("prompt", "", "word " * 200 + "x")],
)
def test_string_lengths_hold_on_both_sides(field: str, short: str, long: str) -> None:
    assert getattr(parse(encoded({field: long[:-1]})), field) == long[:-1]
    assert refused(encoded({field: short})) == f"{field}: must be at least 1 characters, got 0"
    assert refused(encoded({field: long})).startswith(f"{field}: must be at most ")


def test_big_integers_are_refused_by_their_bound() -> None:
    assert refused(b'{"n": 100000000000000000000000000000}').startswith("n: must be <= 16, got 1000")


def test_integer_literal_too_long_to_read_is_refused_before_int_parses_it() -> None:
    assert "integer literal of 5000 digits" in refused(b'{"n": ' + b"9" * 5000 + b"}")


# --- field combinations -----------------------------------------------------------------------------------------


def test_unknown_field_is_named_with_a_suggestion() -> None:
    assert refused(b'{"temprature": 0.8}') == "unknown field 'temprature' (did you mean 'temperature'?)"
    assert refused(b'{"colour": 1}') == "unknown field 'colour'"
    assert refused(b'{"mirostat": {"tau": 3, "beta": 1}}').startswith("unknown field 'beta' in mirostat")


def test_seed_and_prompt_together_are_refused() -> None:
    assert refused(b'{"seed": "night", "prompt": "The night"}') == "seed: not allowed together with prompt"
    assert parse(b'{"prompt": "The night"}').prompt == "The night"


@pytest.mark.parametrize("truncation", [{"top_k": 40}, {"top_p": 0.9}, {"typical_p": 0.5}, {"top_k": 0, "top_p": 1}])
def test_mirostat_with_a_truncation_setting_is_refused(truncation: dict) -> None:
    message = refused(encoded({"mirostat": {"tau": 3}, **truncation}))
    assert message == f"{', '.join(truncation)}: not allowed together with mirostat"


def test_mirostat_turns_the_other_truncations_off_and_fills_its_own_defaults() -> None:
    request = parse(b'{"mirostat": {"tau": 4.5}, "temperature": 0.8}')
    rules = REQUEST_SCHEMA["properties"]["mirostat"]["properties"]
    assert request.mirostat == Mirostat(tau=4.5, eta=rules["eta"]["default"])
    assert (request.top_k, request.top_p, request.typical_p) == (0, 1.0, 1.0)
    assert request.temperature == 0.8
    assert parse(b'{"mirostat": {}}').mirostat == Mirostat(rules["tau"]["default"], rules["eta"]["default"])


# --- how the body arrives ----------------------------------------------------------------------------------------


def test_raw_bytes_bytearray_text_and_fields_read_the_same() -> None:
    document = {"n": 2, "prompt": "Ünïcode ok 😀", "mirostat": {"tau": 2.5}}
    raw = encoded(document)
    results = {parse(raw), parse(bytearray(raw)), parse(raw.decode("utf-8")), request_from_fields(document)}
    assert len(results) == 1
    assert results.pop().prompt == "Ünïcode ok 😀"


@pytest.mark.parametrize("decoded", [{"n": 2}, [{"n": 1}], 7, 2.5, True])
def test_a_body_decoded_before_the_handler_is_refused(decoded: object) -> None:
    # Decoded, its duplicate keys, size and spelling are gone: only the raw body can be checked (handler.py).
    assert refused(decoded).startswith("body reached the handler already decoded")


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "Application/JSON", "application/json; charset=utf-8", 'application/json;charset="UTF-8"'],
)
def test_json_content_types_are_accepted(content_type: str) -> None:
    assert parse(b'{"n": 2}', content_type).n == 2


@pytest.mark.parametrize(
    ("content_type", "problem"),
    [
        (None, "Content-Type is missing"),
        ("  ", "Content-Type is missing"),
        ("text/plain", "Content-Type must be application/json, got 'text/plain'"),
        ("application/x-www-form-urlencoded", "Content-Type must be application/json"),
        ("application/json; charset=latin-1", "Content-Type charset must be utf-8, got 'latin-1'"),
        ("application/json; boundary=x", "Content-Type parameter 'boundary' is not supported"),
    ],
)
def test_other_content_types_are_refused_even_for_a_decoded_body(content_type: str | None, problem: str) -> None:
    assert refused(b'{"n": 2}', content_type).startswith(problem)
    assert refused({"n": 2}, content_type).startswith(problem)


@pytest.mark.parametrize("body", [b"", bytearray(), "", b" \r\n\t ", None])
def test_empty_body_is_refused(body: object) -> None:
    assert refused(body).startswith("body is empty")


@pytest.mark.parametrize(
    ("body", "where"),
    [(b'{"n": 2,}', "line 1 column 9"), (b'{"n": 2}\n{"n": 3}', "line 2 column 1"), (b"n=2", "line 1 column 1")],
)
def test_invalid_json_says_where(body: bytes, where: str) -> None:
    assert refused(body).startswith(f"body is not valid JSON at {where}: ")


def test_bytes_that_are_not_utf8_say_which_byte() -> None:
    assert refused(b'{"seed": "caf\xe9"}') == "body is not valid UTF-8 at byte 13"


def test_duplicate_keys_are_refused_rather_than_the_last_one_winning() -> None:
    assert refused(b'{"n": 1, "n": 16}') == "duplicate field 'n'"


@pytest.mark.parametrize(
    ("body", "shown"),
    [(b"[]", "[]"), (b'[{"n": 1}]', '[{"n": 1}]'), (b'"n"', "'n'"), (b"3", "3"), (b"null", "null"), (b"true", "true")],
)
def test_top_level_value_that_is_not_an_object_is_refused(body: bytes, shown: str) -> None:
    assert refused(body) == f"body: must be an object, got {shown}"


def test_body_nested_too_deeply_is_refused_without_a_traceback() -> None:
    assert refused(b'{"x": ' + b"[" * 30_000 + b"]" * 30_000 + b"}") == "body is nested too deeply to read"


# --- odd numbers, odd strings -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("literal", "shown"), [("NaN", "NaN"), ("Infinity", "Infinity"), ("-Infinity", "-Infinity"), ("1e999", "Infinity")]
)
def test_non_finite_numbers_are_refused_by_field(literal: str, shown: str) -> None:
    assert refused(f'{{"temperature": {literal}}}'.encode()) == f"temperature: must be a finite number, got {shown}"
    assert refused(f'{{"mirostat": {{"eta": {literal}}}}}'.encode()).startswith("mirostat.eta: must be a finite")


def test_non_finite_numbers_from_fields_are_refused() -> None:
    # Python's json writes and reads NaN and Infinity happily; the request contract does not.
    for fields, message in [({"top_p": math.nan}, "top_p: must be a finite number, got NaN"),
                            ({"min_novelty": -math.inf}, "min_novelty: must be a finite number, got -Infinity")]:
        with pytest.raises(RequestError, match=message):
            request_from_fields(fields)


@pytest.mark.parametrize(
    ("field", "value"), [("n", True), ("temperature", False), ("top_p", True), ("rng_seed", False)]
)
def test_booleans_are_not_numbers(field: str, value: bool) -> None:
    kind = "an integer" if REQUEST_SCHEMA["properties"][field]["type"] == "integer" else "a number"
    assert refused(encoded({field: value})) == f"{field}: must be {kind}, got {json.dumps(value)}"


@pytest.mark.parametrize(("field", "value"), [("n", "3"), ("seed", 3), ("mirostat", 3.0), ("prompt", ["a"])])
def test_wrong_types_are_named(field: str, value: object) -> None:
    assert refused(encoded({field: value})).startswith(f"{field}: must be ")


@pytest.mark.parametrize("field", ["seed", "prompt"])
def test_lone_surrogates_are_refused_raw_or_from_fields(field: str) -> None:
    expected = f"{field}: contains a lone surrogate (U+D800) at position 2"
    assert refused(f'{{"{field}": "ab\\ud800"}}'.encode()) == expected
    with pytest.raises(RequestError) as caught:
        request_from_fields({field: "ab\ud800"})
    assert str(caught.value) == expected


def test_lone_surrogate_in_a_field_name_is_refused() -> None:
    assert refused(b'{"\\udc00": 1}') == "field name '\\udc00': contains a lone surrogate (U+DC00) at position 0"


def test_escaped_surrogate_pair_is_a_proper_character() -> None:
    assert parse(b'{"prompt": "smile \\ud83d\\ude00"}').prompt == "smile 😀"


@pytest.mark.parametrize("char", ["\n", "\t", "\x00", "\x1b", "\x7f", "\x85"])
@pytest.mark.parametrize("field", ["seed", "prompt"])
def test_control_characters_are_refused_in_seed_and_prompt(field: str, char: str) -> None:
    message = refused(encoded({field: "ab" + char + "c"}))
    assert message == f"{field}: character U+{ord(char):04X} at position 2 is not allowed"


@pytest.mark.parametrize("field", ["seed", "prompt"])
def test_a_trailing_newline_is_refused_too(field: str) -> None:
    # Python's `$` matches before a final newline, so an anchored "allowed characters" pattern would let it in.
    assert refused(encoded({field: "abc\n"})) == f"{field}: character U+000A at position 3 is not allowed"


def test_seed_is_one_word_while_prompt_may_have_spaces() -> None:
    assert refused(b'{"seed": "two words"}') == "seed: character U+0020 at position 3 is not allowed"
    assert parse(b'{"prompt": "two words"}').prompt == "two words"


# --- size cap ----------------------------------------------------------------------------------------------------


def test_body_at_the_cap_is_read_and_one_byte_more_is_refused_with_the_cap_in_the_message() -> None:
    document = b'{"n": 2}'
    at_cap = document + b" " * (MAX_BODY_BYTES - len(document))
    assert parse(at_cap).n == 2
    message = refused(at_cap + b" ")
    assert message == f"body is {MAX_BODY_BYTES + 1} bytes, over the limit of {MAX_BODY_BYTES} bytes (64 KiB)"


def test_oversized_fields_are_refused() -> None:
    with pytest.raises(RequestError, match="over the limit of 65536 bytes"):
        request_from_fields({"prompt": "x" * MAX_BODY_BYTES})


def test_long_odd_values_are_cut_and_escaped_in_the_one_line_message() -> None:
    message = refused(encoded({"bad\nname" + "y" * 500: 1}))
    assert message.startswith("unknown field 'bad\\nname") and message.endswith("…'")
