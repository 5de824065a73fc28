"""Client of the lorecast inference API (contract 5): `POST /predictions/<name>` on a TorchServe that serves a
lorecast `.mar`.

    client = InferenceClient("http://127.0.0.1:8080/predictions/lorecast", key=read_key_file("run/key_file.json"))
    generation = client.generate(n=3, seed="kernel", temperature=0.8)
    for text in generation.texts: print(text.text, text.score)

Request: a JSON object of the fields in serve_handler/request_schema.json (n, seed | prompt | reply_to, max_new_tokens,
temperature, top_k, top_p, typical_p, mirostat {tau, eta}, candidates, min_novelty, explore, rng_seed), sent as
`Content-Type: application/json`. Only the fields given are sent and a field given as None is left out: the
server owns the defaults and the validation (a bad field comes back as a 400 with a one-line reason).

Response (200), read into a `Generation`: validated against serve_handler/response_schema.json, the worker's own
schema of its answers, read as a file (the poster runs none of the worker's code): every field it names must be
there with its type and within its bounds, so a wrong endpoint or contract fails loudly, naming the first field
that breaks it in the schema's order. Fields the schema does not name are ignored (kept in `Generation.raw`):
the schema's `additionalProperties: false` binds the handler, while a poster keeps working against a newer
server that adds a field. A 400 body of the schema's `$defs/error` shape is the handler's one-line reason.

Auth: TorchServe's token authorization (on by default) wants `Authorization: Bearer <inference key>`; the key is
in key_file.json in the directory TorchServe was started from (`read_key_file`). Without a valid key TorchServe
answers 400 InvalidKeyException.

Failures raise `InferenceError`, one line that never holds the key:
- 502, 503, 504 and connection errors (refused, dropped without an answer) are retried `retries` times, waiting
  `backoff`, 2 x backoff, 4 x backoff, ... seconds in between (TorchServe answers 503 while no worker is ready).
- Not retried: 400 (a bad field, or a refused key), 500 and other statuses, and a read timeout (the server may
  still be generating; asking again would only add load).
- A 200 body that does not follow the contract.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from lorecast.errors import InferenceError
from poster.credentials import one_line
from poster.responses import excerpt, json_body, network_reason, os_cause
from poster.worker_schemas import worker_schema

RETRIED_STATUSES = frozenset({502, 503, 504})
_SERVE_HINT = "is it running? `lorecast serve status`"
_KEY_HINT = (
    "TorchServe writes a new one at every start to key_file.json in the directory it was started from, "
    "and it expires; pass that file with --key-file"
)


@dataclass(frozen=True)
class GeneratedText:
    text: str
    seed: str | None
    score: float  # what the texts were ranked by (Generation.ranked_by)
    logprob: float  # mean token log-probability
    novelty: float | None  # 1 - similarity to the nearest training sentence; None when it was not scored
    exploratory: bool  # picked at random from lower-ranked candidates (the request's `explore`)


@dataclass(frozen=True)
class ReplyConditioning:
    """How the texts answer the request's reply_to (the response's `reply`)."""

    mode: str  # "conversation" (the corpus's tags: the texts are the answer alone) or "seed"
    said: str | None  # the word as said that the seed came from (seed mode, when a word was known)
    seed: str | None  # the seed word used (seed mode)
    refused: str | None  # "blocklist" or "toxicity": the screen refused what was said, and there are no texts


@dataclass(frozen=True)
class Generation:
    texts: list[GeneratedText]  # best first, but for exploratory picks
    seed: str | None  # the seed word used; None when the request gave a prompt
    seed_requested: str | None  # the seed word asked for; differs from seed when it was mapped to a known word
    prompt: str | None
    rng_seed: int  # send it back to repeat this generation
    ranked_by: str
    candidates: int  # generated for this request
    rejected: dict[str, int]  # candidates dropped, by filter
    missing: int  # texts asked for that no surviving candidate could fill
    batch_size: int  # requests in the TorchServe batch this one was served in
    raw: dict[str, Any]  # the response body as received
    reply: ReplyConditioning | None = None  # for a reply_to request; None otherwise, or from an earlier worker

    @property
    def seed_was_mapped(self) -> bool:
        return self.seed_requested is not None and self.seed != self.seed_requested


def read_key_file(path: str | PathLike[str]) -> str:
    """The inference key in TorchServe's key_file.json: {"inference": {"key": ...}, "management": ..., ...}."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InferenceError(f"{path}: no such key file ({_KEY_HINT})") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InferenceError(f"{path}: cannot read the key file: {_os_reason(error)}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        # error.msg only, never the document: it holds keys.
        raise InferenceError(f"{path}:{error.lineno}: not JSON ({error.msg})") from None
    section = document.get("inference") if isinstance(document, dict) else None
    key = section.get("key") if isinstance(section, dict) else None
    if not isinstance(key, str) or not key.strip():
        raise InferenceError(
            f'{path}: no inference key in it (TorchServe\'s key_file.json holds {{"inference": {{"key": ...}}}})'
        )
    return key.strip()


class InferenceClient:
    """Asks one lorecast predictions endpoint for generations; reuses its HTTP connections until `close()`."""

    def __init__(
        self,
        endpoint: str,
        key: str | None = None,
        timeout: float = 60,
        retries: int = 3,
        backoff: float = 1.0,
    ) -> None:
        try:
            parts = urlsplit(endpoint)
        except ValueError:  # an unbalanced IPv6 bracket
            parts = urlsplit("")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InferenceError(
                f"endpoint {endpoint!r} is not an http(s) URL such as http://127.0.0.1:8080/predictions/lorecast"
            )
        if timeout <= 0 or retries < 0 or backoff < 0:
            raise ValueError("timeout must be positive, retries and backoff not negative")
        self.endpoint = endpoint
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._key = _checked_key(key)
        self._session = requests.Session()

    def __repr__(self) -> str:
        return f"InferenceClient({self.endpoint!r})"

    def __enter__(self) -> InferenceClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    def generate(self, n: int | None = None, **fields: Any) -> Generation:
        """`n` texts (the server's default when None) for the request `fields`; a None field is not sent."""
        request = {name: value for name, value in {"n": n, **fields}.items() if value is not None}
        body = _encode(request)
        response = self._post(body)
        try:
            document = json.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            raise self._error(
                f"TorchServe at {self.endpoint} answered 200 with a body that is not JSON "
                f"({excerpt(response)}); is this the lorecast model's predictions URL?"
            ) from None
        try:
            return _read_generation(document)
        except ValueError as problem:
            raise self._error(
                f"TorchServe at {self.endpoint} answered 200 but not with a lorecast generation: {problem}"
            ) from None

    def _post(self, body: bytes) -> requests.Response:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._key is not None:
            headers["Authorization"] = f"Bearer {self._key}"
        attempts = self.retries + 1
        attempt = 1
        while True:
            last_try = attempt == attempts
            tried = f" after {attempts} attempts" if last_try and attempts > 1 else ""
            try:
                response = self._session.post(self.endpoint, data=body, headers=headers, timeout=self.timeout)
            except requests.ConnectionError as error:  # ConnectTimeout included: nothing reached the server
                if last_try:
                    raise self._error(self._connection_message(error, tried)) from None
            except requests.Timeout:
                raise self._error(
                    f"TorchServe at {self.endpoint} did not answer within {self.timeout:g} s"
                ) from None
            except requests.RequestException as error:  # a broken answer, a URL requests cannot use
                raise self._error(f"the request to {self.endpoint} failed: {network_reason(error)}") from None
            else:
                if response.status_code == 200:
                    return response
                if response.status_code not in RETRIED_STATUSES or last_try:
                    raise self._error(self._status_message(response, tried))
            time.sleep(self.backoff * 2 ** (attempt - 1))
            attempt += 1

    def _connection_message(self, error: requests.ConnectionError, tried: str) -> str:
        if isinstance(os_cause(error), (ConnectionResetError, BrokenPipeError)):  # RemoteDisconnected too
            return f"TorchServe at {self.endpoint} closed the connection without answering{tried}"
        return f"TorchServe is not reachable at {self.endpoint}: {network_reason(error)}{tried} ({_SERVE_HINT})"

    def _status_message(self, response: requests.Response, tried: str) -> str:
        document = json_body(response)
        if isinstance(document, dict) and document.get("type") == "InvalidKeyException":
            if self._key is None:
                return f"TorchServe at {self.endpoint} wants an inference key and none was given ({_KEY_HINT})"
            return f"TorchServe at {self.endpoint} refused the inference key ({_KEY_HINT})"
        if response.status_code == 400 and _ERROR.is_valid(document):
            return f"TorchServe refused the request: {document['error']}"
        if isinstance(document, dict) and isinstance(document.get("message"), str):
            detail = document["message"]  # TorchServe's own errors: {"code", "type", "message"}
        else:
            detail = excerpt(response)
        return f"TorchServe at {self.endpoint} answered HTTP {response.status_code}{tried}: {detail}"

    def _error(self, message: str) -> InferenceError:
        """One line, cut to a readable length, and with the key blotted out should a server echo it."""
        if self._key:  # before the cut, which could leave half a key
            message = message.replace(self._key, "[key]")
        return InferenceError(one_line(message))


def _checked_key(key: str | None) -> str | None:
    if key is None:
        return None
    key = key.strip()
    # The key goes into a header: a control character or space inside would make requests raise with the whole
    # header value, key included, in its message.
    if not key or not key.isascii() or not key.isprintable() or " " in key:
        raise InferenceError("the inference key is empty or holds spaces, control or non-ASCII characters")
    return key


def _encode(request: dict[str, Any]) -> bytes:
    try:
        return json.dumps(request, allow_nan=False).encode("ascii")
    except ValueError:
        bad = sorted(name for name, value in request.items() if not _finite_json(value))
        raise InferenceError(f"request field {', '.join(bad)}: NaN and infinity cannot be sent as JSON") from None


def _finite_json(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except ValueError:
        return False
    return True


def _read_generation(document: Any) -> Generation:
    """The 200 body as a Generation; ValueError naming the first field that breaks the response schema."""
    problem = next(_RESPONSE.iter_errors(document), None)
    if problem is not None:
        raise ValueError(_describe(problem))
    # JSON Schema counts 2.0 as an integer and 2 as a number: the dataclasses get int and float.
    texts = [
        GeneratedText(
            text=item["text"],
            seed=item["seed"],
            score=float(item["score"]),
            logprob=float(item["logprob"]),
            novelty=None if item["novelty"] is None else float(item["novelty"]),
            exploratory=item["exploratory"],
        )
        for item in document["texts"]
    ]
    return Generation(
        texts=texts,
        seed=document["seed"],
        seed_requested=document["seed_requested"],
        prompt=document["prompt"],
        rng_seed=int(document["rng_seed"]),
        ranked_by=document["ranked_by"],
        candidates=int(document["candidates"]),
        rejected={reason: int(count) for reason, count in document["rejected"].items()},
        missing=int(document["missing"]),
        batch_size=int(document["batch_size"]),
        reply=_reply(document.get("reply")),
        raw=document,
    )


def _reply(reply: dict[str, Any] | None) -> ReplyConditioning | None:
    if reply is None:
        return None
    return ReplyConditioning(mode=reply["mode"], said=reply["said"], seed=reply["seed"], refused=reply["refused"])


# Fields a worker of an earlier release does not send: read as null when absent.
_LATER_FIELDS = ("reply",)


def _response_schema() -> dict[str, Any]:
    """The worker's response_schema.json without `additionalProperties: false` (see the module docstring), and
    without requiring the fields of later releases."""
    schema = _tolerant(worker_schema("response_schema.json"))
    schema["required"] = [name for name in schema["required"] if name not in _LATER_FIELDS]
    return schema


def _tolerant(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {key: _tolerant(value) for key, value in schema.items()
                if (key, value) != ("additionalProperties", False)}
    if isinstance(schema, list):
        return [_tolerant(item) for item in schema]
    return schema


_SCHEMA = _response_schema()
_RESPONSE, _ERROR = Draft202012Validator(_SCHEMA), Draft202012Validator(_SCHEMA["$defs"]["error"])


def _describe(error: ValidationError) -> str:
    """One short line: jsonschema's own messages repeat the whole value, which may be the whole body."""
    path = list(error.absolute_path)
    if error.validator == "required":
        missing = next(name for name in error.validator_value if name not in error.instance)
        return f'"{_name([*path, missing])}" is missing'
    where = f'"{_name(path)}"' if path else "the body"
    if error.validator == "type":
        wanted = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        return f"{where} is {_json_type(error.instance)}, not {' or '.join(_a(kind) for kind in wanted)}"
    return f"{where}: {error.message}"


def _name(path: list[str | int]) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path).lstrip(".")


_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean", type(None): "null", dict: "object",
               list: "array"}


def _json_type(value: Any) -> str:
    return _a(_JSON_TYPES.get(type(value), type(value).__name__))


def _a(kind: str) -> str:
    return kind if kind == "null" else f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"


def _os_reason(error: BaseException) -> str:
    return getattr(error, "strerror", None) or str(error)
