"""One TorchServe batch, start to end, without TorchServe: requests in, one answer per request out.

    service = GenerationService.load(archive_dir, settings, device, dtype)     # once, when the worker starts
    answers, stats = service.serve([(raw_body, content_type), ...])            # once per batch

`load` reads an extracted archive (layout.py) through `from_parts`, which takes the same parts as plain files
wherever they are: `lorecast train sample` builds the very same service from a model dir and a corpus dir
(whose words.txt and train.txt are the archive's words.txt and novelty.txt), so a preview is what is served.

Each answer is a response dict (contract 5, below) or the `RequestError` that makes that request a 400; a bad
request never stops the others. `stats` feeds the handler's metrics.

For the valid requests of a batch:
1. The request's `rng_seed` is chosen here when it has none (and reported), so any answer can be repeated.
2. Its start: the prompt as given; else the seed word, as asked when the model knows it, or the closest known
   word to it; else, for a reply (`reply_to`), what was said (reply.py): refused at once when the blocklist or
   toxicity filter rejects it (no texts, nothing generated), else the previous turn of a conversation-tagged
   corpus (the texts are the answer alone), else the rarest word of it the model knows as the seed word (seeds.py
   from_mention); else, and for a reply none of whose words maps, a random familiar word drawn from the request's
   own stream (so `rng_seed` fixes it too). A seed word the service chose (a closest, mentioned or drawn one)
   comes in its form from words.txt, the casing the corpus's lines open with it ("Kernel", seeds.py); the prompt
   is <|endoftext|> + that word, and the response's "seed" is the word exactly as the prompt has it, so every
   text starts with it.
3. One batched generation of every request's `n * candidates` candidates (engine.py).
4. The filter chain over the whole batch (filters/), counting rejections per request and reason.
5. The ranker (the selector when the archive has one) scores the survivors; each request gets `n` of them, the
   best first, except that with probability `explore` per text a random lower-ranked one is taken (ranking.py).

Response (200):
    {"texts": [{"text", "seed", "score", "logprob", "novelty", "exploratory"}, ...],   in the order chosen, at most n
     "seed", "seed_requested", "prompt", "rng_seed", "ranked_by",
     "candidates": n * candidates generated, "rejected": {reason: count, ...}, "missing": n - len(texts),
     "batch_size": requests in this TorchServe batch,
     "reply": null, or for a reply {"mode": "conversation" | "seed", "said", "seed", "refused"}}
A request whose candidates were all rejected still gets 200, with fewer texts and "missing" saying how many.
"""

from __future__ import annotations

import dataclasses
import json
import random
import secrets
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from serve_handler import layout
from serve_handler.engine import Job, encode_prompt, generate_candidates
from serve_handler.filters.base import Draft
from serve_handler.filters.chain import FilterChain, default_chain
from serve_handler.novelty import NoveltyIndex
from serve_handler.ranking import LogprobRanker, Ranker, SelectorRanker, choose
from serve_handler.reply import conversation_prompt, mention_words
from serve_handler.request import GenerationRequest, RequestError, parse_request
from serve_handler.seeds import SeedWords
from serve_handler.selector import Selector
from serve_handler.settings import HandlerSettings
from textrules.blocklist import Blocklist, read_terms

_RNG_SEED_BITS = 63  # the schema's bound: 0 .. 2**63 - 1
SCREENING_REASONS = ("blocklist", "toxicity")  # the filters that judge a mention before it is answered


@dataclass(frozen=True)
class BatchStats:
    batch_size: int
    bad_requests: int
    candidates: int
    rejected: dict[str, int]
    seconds: float  # the whole batch, parsing to responses
    ranking_seconds: float  # of which scoring the survivors (the selector's forward pass, when there is one)


@dataclass(frozen=True)
class _Start:
    """Where one request's generation starts, and what the response says about it."""

    text: str
    seed: str | None
    seed_requested: str | None
    reply: dict[str, Any] | None = None  # the response's "reply"
    answer_only: bool = False  # the texts are the continuation alone (engine.Job)

    @property
    def refused(self) -> bool:
        return self.reply is not None and self.reply["refused"] is not None


class GenerationService:
    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        seeds: SeedWords,
        chain: FilterChain,
        ranker: Ranker,
        conversation_tags: bool = False,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.seeds = seeds
        self.chain = chain
        self.ranker = ranker
        self.conversation_tags = conversation_tags  # the corpus was built with them: replies answer in them
        # What judges a mention before it is answered: the chain's own blocklist and toxicity filters.
        self._screens = [check for check in chain.filters if check.reason in SCREENING_REASONS]

    @classmethod
    def load(
        cls, archive_dir: Path, settings: HandlerSettings, device: torch.device, dtype: torch.dtype
    ) -> GenerationService:
        """Everything from the extracted archive (layout.py), read once."""
        selector_dir = archive_dir / layout.SELECTOR_DIR
        return cls.from_parts(
            archive_dir / layout.GENERATOR_DIR,
            archive_dir / layout.SEED_WORDS,
            archive_dir / layout.NOVELTY_SENTENCES,
            read_terms(archive_dir / layout.BLOCKLIST),
            settings, device, dtype,
            selector_dir=selector_dir if selector_dir.exists() else None,
            conversation_tags=_conversation_tags(archive_dir),
        )

    @classmethod
    def from_parts(
        cls,
        generator_dir: Path,
        seed_words: Path,
        novelty_sentences: Path,
        blocklist_terms: Sequence[str],
        settings: HandlerSettings,
        device: torch.device,
        dtype: torch.dtype,
        *,
        selector_dir: Path | None = None,
        filtered: bool = True,
        conversation_tags: bool = False,
    ) -> GenerationService:
        """The service from its parts, each read once in its plain format: a `save_pretrained` generator dir
        (model and tokenizer), the seed words (words.txt, with or without forms: seeds.py), the training sentences
        that novelty is measured against (one a line), the blocked terms, and optionally a selector dir
        (then the selector ranks, else the mean log-probability). `filtered=False` serves with no filters at all
        (nothing cut at a sentence end, nothing rejected, no mention screened): a raw look at the generator through the
        same engine. `conversation_tags`: the corpus was built with them, so replies are asked in them."""
        tokenizer = AutoTokenizer.from_pretrained(generator_dir)
        model = AutoModelForCausalLM.from_pretrained(generator_dir, dtype=dtype).to(device).eval()
        seeds = SeedWords.from_file(seed_words, settings.familiar_words)
        if filtered:
            blocklist = Blocklist(blocklist_terms)
            chain = default_chain(settings, blocklist, NoveltyIndex.from_file(novelty_sentences))
        else:
            chain = FilterChain(())
        return cls(model, tokenizer, seeds, chain, _ranker(selector_dir, model, tokenizer), conversation_tags)

    def serve(
        self, bodies: Sequence[tuple[bytes | None, str | None]]
    ) -> tuple[list[dict[str, Any] | RequestError], BatchStats]:
        started = time.perf_counter()
        answers: list[dict[str, Any] | RequestError] = []
        accepted: list[tuple[int, GenerationRequest, _Start]] = []  # (answer slot, request, start)
        jobs: list[Job] = []
        for slot, (body, content_type) in enumerate(bodies):
            try:
                request = _with_rng_seed(parse_request(body, content_type))
                start = self._start(request)
                if start.refused:  # nothing to generate
                    answers.append(self._response(request, start, [], dict.fromkeys(self.chain.reasons, 0),
                                                  len(bodies), generated=0))
                    continue
                jobs.append(Job(encode_prompt(self.tokenizer, start.text, self.model.config.n_positions), request,
                                start.answer_only))
            except RequestError as error:
                answers.append(error)
                continue
            answers.append({})
            accepted.append((slot, request, start))

        requests = [request for _, request, _ in accepted]
        with torch.inference_mode():
            candidates = generate_candidates(self.model, self.tokenizer, jobs) if jobs else []
        drafts = [
            Draft(index, candidate.text, candidate.mean_logprob, candidate.complete)
            for index, per_request in enumerate(candidates)
            for candidate in per_request
        ]
        survivors, rejected = self.chain.run(drafts, requests)
        ranking_started = time.perf_counter()
        scores = self.ranker.scores(survivors)
        ranking_seconds = time.perf_counter() - ranking_started

        scored: list[list[tuple[float, Draft]]] = [[] for _ in accepted]
        for score, draft in zip(scores, survivors):
            scored[draft.request_index].append((score, draft))
        for index, (slot, request, start) in enumerate(accepted):
            explorer = random.Random(f"lorecast-explore:{request.rng_seed}")
            picks = choose(scored[index], request.n, request.explore, explorer)
            answers[slot] = self._response(request, start, picks, rejected[index], len(bodies))

        totals: Counter[str] = Counter({reason: 0 for reason in self.chain.reasons})
        for counts in rejected:
            totals.update(counts)
        bad = sum(isinstance(answer, RequestError) for answer in answers)
        stats = BatchStats(len(bodies), bad, len(drafts), dict(totals),
                           time.perf_counter() - started, ranking_seconds)
        return answers, stats

    def _start(self, request: GenerationRequest) -> _Start:
        if request.prompt is not None:
            return _Start(request.prompt, None, None)
        if request.seed is not None:
            word = self.seeds.closest(request.seed)
            return _Start(word, word, request.seed)
        if request.reply_to is not None:
            return self._reply_start(request)
        word = self._drawn(request)
        return _Start(word, word, None)

    def _reply_start(self, request: GenerationRequest) -> _Start:
        said = request.reply_to
        assert said is not None
        reply = {"mode": "conversation" if self.conversation_tags else "seed", "said": None, "seed": None,
                 "refused": self._screened(said, request)}
        if reply["refused"] is not None:
            return _Start("", None, None, reply)
        if self.conversation_tags:
            return _Start(conversation_prompt(self._fitting(said)), None, None, reply, answer_only=True)
        word_said, word = self.seeds.from_mention(mention_words(said)) or (None, self._drawn(request))
        return _Start(word, word, None, {**reply, "said": word_said, "seed": word})

    def _fitting(self, said: str) -> str:
        """What was said, its start cut off when it would take more than half the model's context: the answer
        needs room, and the end of what was said is what it answers."""
        room = self.model.config.n_positions // 2
        ids = self.tokenizer(said, add_special_tokens=False)["input_ids"]
        return said if len(ids) <= room else self.tokenizer.decode(ids[-room:]).strip()

    def _screened(self, said: str, request: GenerationRequest) -> str | None:
        """The reason of the first screening filter that rejects what was said; None when none does."""
        for check in self._screens:
            if check([Draft(0, said, 0.0, True)], [request]) == [None]:
                return check.reason
        return None

    def _drawn(self, request: GenerationRequest) -> str:
        return self.seeds.draw(random.Random(f"lorecast-seed:{request.rng_seed}"))

    def _response(
        self,
        request: GenerationRequest,
        start: _Start,
        picks: list[tuple[float, Draft, bool]],
        rejected: dict[str, int],
        batch_size: int,
        generated: int | None = None,
    ) -> dict[str, Any]:
        return {
            "texts": [
                {
                    "text": draft.text,
                    "seed": start.seed,
                    "score": score,
                    "logprob": draft.mean_logprob,
                    "novelty": draft.novelty,
                    "exploratory": exploratory,
                }
                for score, draft, exploratory in picks
            ],
            "seed": start.seed,
            "seed_requested": start.seed_requested,
            "prompt": request.prompt,
            "rng_seed": request.rng_seed,
            "ranked_by": self.ranker.name,
            "candidates": request.n * request.candidates if generated is None else generated,
            "rejected": rejected,
            "missing": request.n - len(picks),
            "batch_size": batch_size,
            "reply": start.reply,
        }


def _conversation_tags(archive_dir: Path) -> bool:
    """Whether the archive's corpus was built with conversation tags (its manifest says; an older one: no)."""
    path = archive_dir / layout.ARCHIVE_MANIFEST
    manifest = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    return bool(manifest.get("corpus", {}).get("conversation_tags", False))


def _with_rng_seed(request: GenerationRequest) -> GenerationRequest:
    if request.rng_seed is not None:
        return request
    return dataclasses.replace(request, rng_seed=secrets.randbits(_RNG_SEED_BITS))


def _ranker(selector_dir: Path | None, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> Ranker:
    if selector_dir is not None:
        return SelectorRanker(Selector.load(selector_dir, model.device), model, tokenizer)
    return LogprobRanker()
