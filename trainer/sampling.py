"""`lorecast train sample`: texts from a model dir, exactly as the handler would serve them.

What you preview is what gets served. The command builds the worker's own `GenerationService`
(serve_handler/service.py, `from_parts`) from the parts `lorecast archive` packs into a .mar:

    model dir                the generator and its tokenizer
    corpus dir               words.txt (the seed words, in their forms) and train.txt (the sentences novelty is
                             measured against); default: the corpus the model was trained on
                             (lorecast-training.json), if still there
    --blocklist FILE...      the blocked terms, read the way `lorecast archive --blocklist` reads them
    --selector DIR           the ranker; without it the mean log-probability ranks, as in an archive without one
    handler settings         HandlerSettings (settings.py), the archive's defaults unless given

on the device and in the dtype a worker would use (serve_handler/device.py), and asks it with request bodies
(contract 5, request_schema.json) built from the command's options. An option left out is left out of the body,
so the schema's default applies, as it does for `lorecast generate`.

COUNT texts are asked for in requests of at most `per_request` texts each (the schema allows 16): request i asks
for min(per_request, what is left) with rng_seed `rng_seed + i`. Each request is served alone, as a TorchServe
batch of one (in a batch of several, the duplicate filter would also compare across requests). So against an
archive of the same parts and settings, `lorecast generate -n K --rng-seed S` with the same sampling options
returns the texts of the first request. A request whose candidates the filters rejected returns fewer texts
(its response's "missing"); nothing is asked again.
"""

from __future__ import annotations

import json
import re
import secrets
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataset.blocklist_files import read_blocklists
from dataset.corpus import TRAIN_FILE, WORDS_FILE, Corpus, load_corpus
from lorecast.errors import LorecastError
from poster.commands.sampling_options import MAX_TEXTS_PER_REQUEST
from serve_handler.request import REQUEST_SCHEMA, RequestError, request_from_fields
from serve_handler.settings import HandlerSettings
from trainer.model_dir import read_metadata

_RNG_SEEDS = REQUEST_SCHEMA["properties"]["rng_seed"]["maximum"] + 1  # rng_seed + i wraps around within the schema
_JSON = "application/json"
# The request fields whose option is not just --field-name.
_OPTIONS = {"seed": "--seed-word", "mirostat": "--mirostat", "mirostat.tau": "--mirostat",
            "mirostat.eta": "--mirostat-eta"}
_FIELD = re.compile(r"^([a-z_]+(?:\.[a-z_]+)?):")

Warn = Callable[[str], None]


def sampling_corpus(model_dir: str | Path, corpus_dir: str | Path | None, warn: Warn) -> Corpus:
    """The corpus dir to take seed words and novelty sentences from: `corpus_dir`, or else the one the model was
    trained on. A corpus other than the training one (or one changed since) is used with a warning, as
    `lorecast archive` does."""
    training = read_metadata(model_dir)
    trained_on = training.get("corpus_path")
    if corpus_dir is None:
        if not trained_on or not Path(trained_on).is_dir():
            raise LorecastError(
                f"{model_dir}: give --corpus CORPUS_DIR (the model was trained on {trained_on or 'an unknown corpus'}, "
                "which is not there): its words.txt and train.txt are the seed words and novelty sentences"
            )
        corpus_dir = trained_on
    corpus = load_corpus(corpus_dir)
    if not corpus.words:
        raise LorecastError(f"{corpus.path / WORDS_FILE}: no seed words in it")
    if training.get("corpus_content_hash") not in (None, corpus.content_hash):
        warn(f"warning: {model_dir} was trained on corpus {training['corpus_content_hash']}, not on {corpus.path} "
             f"({corpus.content_hash}); seed words and novelty come from {corpus.path}")
    return corpus


def load_service(
    model_dir: str | Path,
    corpus: Corpus,
    *,
    blocklists: Iterable[str | Path] = (),
    selector_dir: str | Path | None = None,
    settings: HandlerSettings = HandlerSettings(),
    filtered: bool = True,
):
    """The handler's GenerationService built from a model dir (one `sampling_corpus` has read: it refuses an
    incomplete one) and its corpus (see the module docstring), on the worker's device; returns (service, device,
    dtype)."""
    from serve_handler.device import choose_local_device
    from serve_handler.service import GenerationService
    from trainer.selector_dir import read_selector_dir

    model_dir = Path(model_dir)
    terms = read_blocklists(blocklists)
    if selector_dir is not None:
        selector_dir = Path(selector_dir)
        read_selector_dir(selector_dir)  # a clear error before the generator loads
    device, dtype = choose_local_device()
    service = GenerationService.from_parts(
        model_dir, corpus.path / WORDS_FILE, corpus.path / TRAIN_FILE, terms, settings, device, dtype,
        selector_dir=selector_dir, filtered=filtered, conversation_tags=corpus.conversation_tags,
    )
    return service, device, dtype


def request_bodies(count: int, per_request: int, rng_seed: int | None, fields: dict[str, Any]) -> list[dict[str, Any]]:
    """The request bodies that ask for `count` texts, at most `per_request` each; request i has rng_seed
    `rng_seed + i` (a random `rng_seed` when None). `fields` with a None value are left out."""
    if count < 1 or not 1 <= per_request <= MAX_TEXTS_PER_REQUEST:
        raise ValueError(f"count must be at least 1 and per_request in 1..{MAX_TEXTS_PER_REQUEST}")
    base = secrets.randbelow(_RNG_SEEDS) if rng_seed is None else rng_seed
    given = {name: value for name, value in fields.items() if value is not None}
    bodies = []
    for index, start in enumerate(range(0, count, per_request)):
        seed = base + index
        if base < _RNG_SEEDS:  # wrap what i adds; a given rng_seed out of range is left for the schema to refuse
            seed %= _RNG_SEEDS
        bodies.append({"n": min(per_request, count - start), **given, "rng_seed": seed})
    return bodies


def check_bodies(bodies: Iterable[dict[str, Any]]) -> None:
    """Validate the bodies as the handler will (cheap: before any model loads); a LorecastError naming the option
    for the first bad one."""
    for body in bodies:
        try:
            request_from_fields(body)
        except RequestError as error:
            raise LorecastError(_FIELD.sub(lambda match: _option(match.group(1)) + ":", str(error), count=1)) from None


def _option(field: str) -> str:
    return _OPTIONS.get(field, "--" + field.replace("_", "-").replace(".", "-"))


def serve_alone(service, bodies: Sequence[dict[str, Any]], progress: Warn = lambda line: None) -> list[dict[str, Any]]:
    """Each body served as a batch of its own; the responses, in order. A refused request is a LorecastError
    (with the handler's one-line reason, which names the request field)."""
    responses = []
    for index, body in enumerate(bodies, 1):
        (answer,), _ = service.serve([(json.dumps(body).encode("utf-8"), _JSON)])
        if isinstance(answer, RequestError):
            raise LorecastError(f"the handler refuses the request {body}: {answer}")
        responses.append(answer)
        if len(bodies) > 1:
            progress(f"request {index}/{len(bodies)}: {len(answer['texts'])} of {body['n']} texts")
    return responses


@dataclass(frozen=True)
class Summary:
    texts: int
    asked: int
    requests: int
    candidates: int
    rejected: dict[str, int]
    seeds: Counter[str]
    rng_seed: int

    @classmethod
    def of(cls, responses: Sequence[dict[str, Any]]) -> Summary:
        rejected: Counter[str] = Counter()
        for response in responses:
            rejected.update(response["rejected"])
        return cls(
            texts=sum(len(response["texts"]) for response in responses),
            asked=sum(len(response["texts"]) + response["missing"] for response in responses),
            requests=len(responses),
            candidates=sum(response["candidates"] for response in responses),
            rejected={reason: count for reason, count in rejected.items() if count},
            seeds=Counter(response["seed"] for response in responses if response["seed"] is not None),
            rng_seed=responses[0]["rng_seed"],
        )

    def lines(self) -> list[str]:
        requests = "1 request" if self.requests == 1 else f"{self.requests} requests"
        rejected = (f"{sum(self.rejected.values())} rejected ("
                    + ", ".join(f"{reason} {count}" for reason, count in sorted(self.rejected.items(),
                                                                               key=lambda item: -item[1]))
                    + ")") if self.rejected else "none rejected"
        lines = [f"{self.texts} of {self.asked} texts from {requests}: {self.candidates} candidates, {rejected}"]
        if self.texts < self.asked:
            lines.append(f"{self.asked - self.texts} missing: too few candidates passed the filters "
                         "(try more --candidates or a lower --min-novelty)")
        if self.seeds:
            shown = ", ".join(f"{word} x{count}" if count > 1 else word for word, count in self.seeds.most_common(8))
            more = f" and {len(self.seeds) - 8} more" if len(self.seeds) > 8 else ""
            lines.append(f"seed words: {shown}{more}")
        lines.append(f"rng_seed {self.rng_seed} (--rng-seed {self.rng_seed} repeats it; request i has rng_seed + i)"
                     if self.requests > 1 else f"rng_seed {self.rng_seed} (--rng-seed {self.rng_seed} repeats it)")
        return lines
