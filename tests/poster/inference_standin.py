"""A stand-in for TorchServe serving a lorecast `.mar`, for the client's tests: no Java, no model, answers at once.

It follows contract 5 (see poster/inference.py) closely enough to catch a client that breaks it:
- `POST /predictions/<model>` only; another path gets TorchServe's 404 ModelNotFoundException.
- Token auth as TorchServe does it: without `Authorization: Bearer <key>`, 400 InvalidKeyException (key=None turns
  auth off).
- Minimal validation of the body, 400 {"error": "one line"}: Content-Type application/json, a JSON object, field
  names of serve_handler/request_schema.json, n an integer within its bounds there, not both seed and prompt.
- A 200 with every response field, texts made from the seed word; an unknown seed word is mapped to the closest
  of `WORDS`; `survivors` caps how many texts "pass the filters"; `texts` fixes them (cycled to n).
- A `reply_to` (not with seed or prompt, as the handler refuses) is cleaned and seeded by the handler's own code
  (serve_handler/reply.py, SeedWords.from_mention over `WORDS`), in seed mode: its texts start from that word,
  and `reply` reports it. One holding a word of `refused_words` is refused as the blocklist screen would be.
- Every 200 and 400 it makes is checked against serve_handler/response_schema.json (strictly, as the handler's
  tests check the handler) before it is sent, so it can never answer kinder than the real handler: a body that
  breaks the schema goes out as a 500 instead, and leaving the `with` block raises it. Injected `Answer`s are
  sent as they are: they stand for servers that break the contract.

Faults, injected in order and each used by one authorized request: `Answer(status, body)` answers that instead,
`Delay(seconds)` answers normally that late, `Drop()` closes the connection without an answer.

    with StandIn(key="k3y") as standin:
        standin.inject(Answer(503, {...}), times=2)
        InferenceClient(standin.endpoint, key="k3y").generate(n=2)
        standin.received     # every request as it arrived, authorized or not
"""

from __future__ import annotations

import difflib
import json
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from loopback_http import LoopbackServer, Reply, Request

from serve_handler.reply import mention_words, spoken_text
from serve_handler.request import ERROR_SCHEMA, REQUEST_SCHEMA, RESPONSE_SCHEMA
from serve_handler.seeds import SeedWords

MODEL = "lorecast"
WORDS = ("kernel", "daemon", "hacker", "wizard")
SEEDS = SeedWords(WORDS, familiar=len(WORDS))
FIELDS = frozenset(REQUEST_SCHEMA["properties"])
# The shipped filter chain's reasons (serve_handler/filters/chain.py): the schema keeps `rejected` an open map.
REJECT_REASONS = ("sentence_end", "length", "blocklist", "toxicity", "novelty", "duplicate")
_RESPONSE, _ERROR = Draft202012Validator(RESPONSE_SCHEMA), Draft202012Validator(ERROR_SCHEMA)
DEFAULT_RNG_SEED = 4242  # what the real handler draws at random when the request has none
INVALID_KEY = {
    "code": 400, "type": "InvalidKeyException",
    "message": "Token Authorization failed. Token either incorrect, expired, or not provided correctly",
}
NO_WORKER = {
    "code": 503, "type": "ServiceUnavailableException",
    "message": f'Model "{MODEL}" has no worker to serve inference request. '
               "Please use scale workers API to add workers.",
}


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any  # a str is sent as is, anything else as JSON


@dataclass(frozen=True)
class Delay:
    seconds: float


@dataclass(frozen=True)
class Drop:
    pass


@dataclass(frozen=True)
class Received:
    client_port: int  # the same port for two requests: the client kept its connection alive
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class StandIn(LoopbackServer):
    methods = ("POST",)

    def __init__(self, key: str | None = "s3cr3tK3y") -> None:
        super().__init__("inference-standin")
        self.key = key
        self.survivors: int | None = None  # at most this many texts per request; None: all n
        self.texts: list[str] | None = None  # the texts to answer with, best first; None: made from the seed
        self.refused_words: set[str] = set()  # a reply_to holding one of them is refused ("blocklist")
        self.received: list[Received] = []
        self.broken: list[ValidationError] = []  # answers of its own that broke the response schema
        self._faults: deque[Answer | Delay | Drop] = deque()
        self._lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return f"{self.url}/predictions/{MODEL}"

    def inject(self, fault: Answer | Delay | Drop, times: int = 1) -> None:
        with self._lock:
            self._faults.extend([fault] * times)

    def __exit__(self, *exc_info: object) -> None:
        super().__exit__(*exc_info)  # stops the server, waking a Delay that is still waiting
        if self.broken and exc_info[0] is None:
            raise AssertionError(f"the stand-in made an answer the real handler could not send: {self.broken[0]}")

    def _answer(self, request: Request) -> tuple[Reply | None, float]:
        """The answer to send (None: close the connection) and how late: the request's own, or a fault's."""
        self._record(Received(request.client_port, request.target, request.headers, request.body))
        answer = self._respond(request.target, request.headers, request.body)
        fault = self._next_fault() if self._authorized(request.headers) else None
        if isinstance(fault, Drop):
            return None, 0.0
        if isinstance(fault, Answer):
            answer = fault
        delay_s = fault.seconds if isinstance(fault, Delay) else 0.0
        return Reply(answer.status, answer.body, "application/json"), delay_s

    def _next_fault(self) -> Answer | Delay | Drop | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def _record(self, received: Received) -> None:
        with self._lock:
            self.received.append(received)

    def _authorized(self, headers: dict[str, str]) -> bool:
        return self.key is None or headers.get("authorization") == f"Bearer {self.key}"

    def _respond(self, path: str, headers: dict[str, str], body: bytes) -> Answer:
        """The answer without faults: TorchServe's frontend checks first, then the handler's."""
        if not self._authorized(headers):
            return Answer(400, INVALID_KEY)
        if path != f"/predictions/{MODEL}":
            name = path.rsplit("/", 1)[-1]
            return Answer(404, {"code": 404, "type": "ModelNotFoundException", "message": f"Model not found: {name}"})
        return self._checked(self._handle(headers, body))

    def _handle(self, headers: dict[str, str], body: bytes) -> Answer:
        """What the lorecast handler would answer."""
        if headers.get("content-type") != "application/json":
            return Answer(400, {"error": "Content-Type must be application/json"})
        try:
            request = json.loads(body)
        except ValueError:
            return Answer(400, {"error": "the body is not JSON"})
        problem = _problem(request)
        if problem:
            return Answer(400, {"error": problem})
        return Answer(200, self._generation(request))

    def _checked(self, answer: Answer) -> Answer:
        """The handler's answer if it follows the response schema, else a 500 (and `__exit__` raises)."""
        problem = next((_RESPONSE if answer.status == 200 else _ERROR).iter_errors(answer.body), None)
        if problem is None:
            return answer
        with self._lock:
            self.broken.append(problem)
        return Answer(500, {"code": 500, "type": "StandInError", "message": problem.message})

    def _generation(self, request: dict[str, Any]) -> dict[str, Any]:
        n, per_text = request.get("n", 1), request.get("candidates", 4)
        rng_seed = request.get("rng_seed", DEFAULT_RNG_SEED)
        prompt, seed_requested = request.get("prompt"), request.get("seed")
        reply = None
        if prompt is not None:
            seed = None
        elif seed_requested is not None:
            seed = difflib.get_close_matches(seed_requested, WORDS, n=1, cutoff=0.0)[0]
        else:
            seed = WORDS[rng_seed % len(WORDS)]
        if "reply_to" in request:
            reply = self._reply(request["reply_to"], seed)
            seed = reply["seed"]
            if reply["refused"]:
                return {"texts": [], "seed": None, "seed_requested": None, "prompt": None, "rng_seed": rng_seed,
                        "ranked_by": "logprob", "candidates": 0, "rejected": dict.fromkeys(REJECT_REASONS, 0),
                        "missing": n, "batch_size": 1, "reply": reply}
        start = prompt if prompt is not None else seed
        kept = n if self.survivors is None else min(n, self.survivors)
        rejected = dict.fromkeys(REJECT_REASONS, 0)
        rejected["novelty"] = n * per_text - kept if kept < n else 0
        made = self.texts or [f"{start} text {index} of run {rng_seed}." for index in range(kept)]
        texts = [
            {"text": made[index % len(made)], "seed": seed, "score": -1.0 - index / 10,
             "logprob": -1.0 - index / 10, "novelty": 0.5, "exploratory": False}
            for index in range(kept)
        ]
        return {
            "texts": texts, "seed": seed, "seed_requested": seed_requested, "prompt": prompt, "rng_seed": rng_seed,
            "ranked_by": "logprob", "candidates": n * per_text, "rejected": rejected, "missing": n - kept,
            "batch_size": 1, "reply": reply,
        }

    def _reply(self, reply_to: str, drawn: str) -> dict[str, Any]:
        words = mention_words(spoken_text(reply_to))
        if self.refused_words.intersection(words):
            return {"mode": "seed", "said": None, "seed": None, "refused": "blocklist"}
        said, seed = SEEDS.from_mention(words) or (None, drawn)
        return {"mode": "seed", "said": said, "seed": seed, "refused": None}


def _problem(request: Any) -> str | None:
    if not isinstance(request, dict):
        return "the body must be a JSON object"
    unknown = sorted(set(request) - FIELDS)
    if unknown:
        return f"unknown field {unknown[0]!r}"
    n, bounds = request.get("n", 1), REQUEST_SCHEMA["properties"]["n"]
    if isinstance(n, bool) or not isinstance(n, int) or not bounds["minimum"] <= n <= bounds["maximum"]:
        return f"n must be an integer from {bounds['minimum']} to {bounds['maximum']}, got {n!r}"
    if "seed" in request and "prompt" in request:
        return "seed and prompt cannot both be given"
    if "reply_to" in request and ("seed" in request or "prompt" in request):
        return "reply_to cannot be given with seed or prompt"
    if "reply_to" in request and not isinstance(request["reply_to"], str):
        return "reply_to: must be a string"
    said = spoken_text(request.get("reply_to", "x"))
    if not said or len(said) > 1000:
        return "reply_to: 1 to 1000 characters once its @-mentions, links and tags are dropped"
    return None

