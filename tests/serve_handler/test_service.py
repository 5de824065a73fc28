"""The handler's batch logic end to end, without TorchServe: a real tiny model trained by the suite, the real
filters and ranking, read from a directory laid out like an extracted .mar."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from jsonschema import Draft202012Validator

from serve_handler import layout
from serve_handler.engine import encode_prompt
from serve_handler.request import ERROR_SCHEMA, RESPONSE_SCHEMA, RequestError, request_from_fields
from serve_handler.selector import Calibration, Selector, SelectorHead
from serve_handler.service import GenerationService
from serve_handler.settings import HandlerSettings

JSON = "application/json"
RESPONSE, ERROR = Draft202012Validator(RESPONSE_SCHEMA), Draft202012Validator(ERROR_SCHEMA)


def lay_out_archive(root: Path, corpus: Path, model: Path, blocklist: str = "") -> Path:
    """The files of an extracted .mar that the service reads (layout.py)."""
    generator = root / layout.GENERATOR_DIR
    generator.mkdir(parents=True)
    for name in layout.GENERATOR_FILES:
        shutil.copyfile(model / name, generator / name)
    shutil.copyfile(corpus / "words.txt", root / layout.SEED_WORDS)
    shutil.copyfile(corpus / "train.txt", root / layout.NOVELTY_SENTENCES)
    (root / layout.BLOCKLIST).write_text(blocklist, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def archive_dir(trained, tmp_path_factory) -> Path:
    corpus, model, _ = trained
    return lay_out_archive(tmp_path_factory.mktemp("archive"), corpus, model)


@pytest.fixture(scope="module")
def service(archive_dir) -> GenerationService:
    # The tiny test model copies its 400 training lines often; min_novelty 0 in the requests keeps those.
    settings = HandlerSettings(min_chars=1, toxicity_threshold=0.5)
    return GenerationService.load(archive_dir, settings, torch.device("cpu"), torch.float32)


def serve(service, *bodies):
    # TorchServe hands the handler raw bytes (handler.py turns its decoding off).
    raw = [body if isinstance(body, (bytes, str)) else json.dumps(body).encode("utf-8") for body in bodies]
    answers, stats = service.serve([(body, JSON) for body in raw])
    for answer in answers:
        check_answer(answer)
    return answers, stats


def check_answer(answer) -> None:
    """The answer as the handler sends it (a RequestError as {"error": ...}, handler.py) follows the response
    schema; strict JSON first, since NaN or infinity would pass every bound of the schema."""
    if isinstance(answer, RequestError):
        ERROR.validate({"error": str(answer)})
    else:
        RESPONSE.validate(json.loads(json.dumps(answer, allow_nan=False)))


def test_a_bad_request_is_answered_alone_and_the_others_are_served(service):
    answers, stats = serve(
        service,
        {"n": 2, "rng_seed": 1, "min_novelty": 0},
        {"n": 2, "bogus": 1},
        {"n": 1, "seed": "kernel", "rng_seed": 2, "min_novelty": 0},
    )
    assert isinstance(answers[1], RequestError) and "bogus" in str(answers[1])
    for answer in (answers[0], answers[2]):
        assert answer["batch_size"] == 3
        assert answer["texts"], answer
    assert (stats.batch_size, stats.bad_requests) == (3, 1)
    assert stats.candidates == 2 * 4 + 1 * 4  # n * default candidates, for the two valid requests


def test_response_accounts_for_every_candidate(service):
    (answer,), _ = serve(service, {"n": 3, "candidates": 4, "rng_seed": 5, "min_novelty": 0, "explore": 0})
    assert answer["candidates"] == 12
    assert set(answer["rejected"]) == set(service.chain.reasons)
    assert len(answer["texts"]) + answer["missing"] == 3
    scores = [text["score"] for text in answer["texts"]]
    assert scores == sorted(scores, reverse=True)
    assert answer["ranked_by"] == "logprob"
    for text in answer["texts"]:
        assert text["exploratory"] is False
        assert text["score"] == text["logprob"] <= 0
        assert 0 <= text["novelty"] <= 1
        assert text["seed"] == answer["seed"] and text["text"].startswith(answer["seed"])


def test_same_rng_seed_same_texts_alone_or_batched(service):
    request = {"n": 2, "rng_seed": 42, "temperature": 1.5, "min_novelty": 0}
    (alone,), _ = serve(service, request)
    batched, _ = serve(service, {"n": 3, "rng_seed": 7, "min_novelty": 0}, request)
    assert alone["texts"] == batched[1]["texts"]
    assert alone["seed"] == batched[1]["seed"]


def test_without_rng_seed_one_is_chosen_and_reported(service):
    (first,), _ = serve(service, {"n": 2, "min_novelty": 0})
    (second,), _ = serve(service, {"n": 2, "min_novelty": 0})
    assert first["rng_seed"] != second["rng_seed"]
    (again,), _ = serve(service, {"n": 2, "min_novelty": 0, "rng_seed": first["rng_seed"]})
    assert again["texts"] == first["texts"]


def test_an_unknown_seed_word_maps_to_the_closest_known_word(service):
    (answer,), _ = serve(service, {"n": 1, "seed": "Kernal", "rng_seed": 3, "min_novelty": 0})
    assert (answer["seed"], answer["seed_requested"]) == ("kernel", "Kernal")
    (known,), _ = serve(service, {"n": 1, "seed": "daemon", "rng_seed": 3, "min_novelty": 0})
    assert (known["seed"], known["seed_requested"]) == ("daemon", "daemon")


@pytest.fixture(scope="module")
def cased_service(trained, tmp_path_factory) -> GenerationService:
    """The service over the same model with a words.txt that keeps forms (the third column)."""
    corpus, model, _ = trained
    words = tmp_path_factory.mktemp("cased") / "words.txt"
    rows = [line.split("\t") for line in (corpus / "words.txt").read_text().splitlines()]
    words.write_text("".join(f"{word}\t{count}\t{word.capitalize()}\n" for word, count in rows), encoding="utf-8")
    return GenerationService.from_parts(model, words, corpus / "train.txt", [], HandlerSettings(min_chars=1),
                                        torch.device("cpu"), torch.float32)


def test_a_drawn_seed_starts_the_prompt_in_its_form(cased_service, service):
    for rng_seed in range(6):
        body = {"n": 2, "rng_seed": rng_seed, "min_novelty": 0}
        (answer,), _ = serve(cased_service, body)
        (plain,), _ = serve(service, body)
        assert answer["seed"] == plain["seed"].capitalize()  # the same word drawn, in its form
        assert answer["texts"] and all(text["text"].startswith(answer["seed"]) for text in answer["texts"])
        start = cased_service._start(request_from_fields(body))
        prompt = encode_prompt(cased_service.tokenizer, start.text, cased_service.model.config.n_positions)
        assert cased_service.tokenizer.decode(prompt) == "<|endoftext|>" + answer["seed"]


def test_a_requested_seed_keeps_its_casing_when_known_else_takes_the_closest_form(cased_service):
    for asked in ("kernel", "Kernel", "KERNEL"):
        (answer,), _ = serve(cased_service, {"n": 1, "seed": asked, "rng_seed": 3, "min_novelty": 0})
        assert (answer["seed"], answer["seed_requested"]) == (asked, asked)
        assert all(text["text"].startswith(asked) for text in answer["texts"])
    (mapped,), _ = serve(cased_service, {"n": 1, "seed": "kernal", "rng_seed": 3, "min_novelty": 0})
    assert (mapped["seed"], mapped["seed_requested"]) == ("Kernel", "kernal")


def test_a_mention_seeds_the_prompt_with_the_form_of_the_word(cased_service):
    (answer,), _ = serve(cased_service, {"n": 2, "reply_to": "@bot so, packets?", "rng_seed": 5, "min_novelty": 0})
    assert answer["reply"] == {"mode": "seed", "said": "packets", "seed": "Packet", "refused": None}
    assert answer["seed"] == "Packet" and all(text["text"].startswith("Packet") for text in answer["texts"])


def test_without_seed_a_familiar_word_is_drawn_from_the_request_stream(service, trained):
    corpus, _, _ = trained
    words = {line.split("\t")[0] for line in (corpus / "words.txt").read_text().splitlines()}
    seen = set()
    for rng_seed in range(12):
        (answer,), _ = serve(service, {"n": 1, "rng_seed": rng_seed, "min_novelty": 0})
        assert answer["seed"] in words and answer["seed_requested"] is None
        seen.add(answer["seed"])
    assert len(seen) > 2


def test_a_prompt_starts_every_text(service):
    (answer,), _ = serve(service, {"n": 2, "prompt": "the clever", "rng_seed": 4, "min_novelty": 0})
    assert answer["seed"] is None and answer["prompt"] == "the clever"
    assert all(text["text"].startswith("the clever") for text in answer["texts"])


def test_a_prompt_longer_than_the_context_is_a_request_error(service):
    (answer,), stats = serve(service, {"n": 1, "prompt": "packet " * 100})
    assert isinstance(answer, RequestError) and "context" in str(answer)
    assert stats.candidates == 0


def test_strict_novelty_rejects_copies_of_the_training_text(service):
    # The test model has learnt its 400 lines by heart: asking for texts far from all of them leaves few or none.
    (strict,), _ = serve(service, {"n": 4, "candidates": 4, "rng_seed": 9, "min_novelty": 0.9})
    (loose,), _ = serve(service, {"n": 4, "candidates": 4, "rng_seed": 9, "min_novelty": 0})
    assert strict["rejected"]["novelty"] > loose["rejected"]["novelty"] == 0
    assert strict["missing"] > 0


def test_explore_returns_lower_ranked_texts_marked_and_repeatable(service):
    request = {"n": 3, "candidates": 8, "rng_seed": 21, "min_novelty": 0, "explore": 1}
    (explored,), _ = serve(service, request)
    (again,), _ = serve(service, request)
    assert explored["texts"] == again["texts"]
    (greedy,), _ = serve(service, {**request, "explore": 0})
    assert all(text["exploratory"] for text in explored["texts"][: len(explored["texts"]) - 1])
    assert explored["texts"][0]["text"] != greedy["texts"][0]["text"]
    assert explored["texts"][0]["score"] < greedy["texts"][0]["score"]


@pytest.fixture(scope="module")
def selector_service(trained, tmp_path_factory) -> GenerationService:
    """The archive with a selector: an untrained head (random weights) is enough to follow its scores."""
    corpus, model, _ = trained
    root = lay_out_archive(tmp_path_factory.mktemp("with_selector"), corpus, model)
    torch.manual_seed(0)
    hidden = json.loads((model / "config.json").read_text())["n_embd"]
    Selector(SelectorHead(2 * hidden, 16), [-1, 0], Calibration(2.0, -0.5)).save(
        root / layout.SELECTOR_DIR, metrics={}, trained_on={}
    )
    return GenerationService.load(root, HandlerSettings(min_chars=1), torch.device("cpu"), torch.float32)


def test_with_a_selector_texts_are_ranked_by_its_probability(selector_service):
    (answer,), stats = serve(selector_service, {"n": 4, "candidates": 4, "rng_seed": 6, "min_novelty": 0,
                                                "explore": 0})
    assert answer["ranked_by"] == "selector"
    texts = [text["text"] for text in answer["texts"]]
    selector = selector_service.ranker.selector
    expected = selector.probabilities(selector_service.model, selector_service.tokenizer, texts)
    assert [text["score"] for text in answer["texts"]] == pytest.approx(expected, abs=1e-5)
    assert expected == sorted(expected, reverse=True)
    assert all(0 < score < 1 for score in expected)
    assert 0 < stats.ranking_seconds < stats.seconds


def test_the_response_schema_names_every_filter_and_refuses_a_changed_answer(service):
    (answer,), _ = serve(service, {"n": 1, "rng_seed": 5, "min_novelty": 0})
    description = RESPONSE_SCHEMA["properties"]["rejected"]["description"]
    assert all(reason in description for reason in answer["rejected"])  # the README table explains each key
    without_missing = {name: value for name, value in answer.items() if name != "missing"}
    for broken in ({**answer, "extra": 1}, without_missing, {**answer, "missing": -1}, {**answer, "ranked_by": "?"}):
        assert not RESPONSE.is_valid(broken), broken


def test_a_reply_starts_from_the_rarest_known_word_of_what_was_said(service, trained):
    corpus, _, _ = trained
    words = [line.split("\t")[0] for line in (corpus / "words.txt").read_text().splitlines()]
    common, rare = words[0], words[-1]
    body = {"n": 2, "reply_to": f"@bot what about the {common.upper()} and the {rare}s?", "rng_seed": 5,
            "min_novelty": 0}
    (answer,), _ = serve(service, body)
    assert answer["reply"] == {"mode": "seed", "said": f"{rare}s", "seed": rare, "refused": None}
    assert answer["seed"] == rare and answer["prompt"] is None and answer["texts"]
    assert all(text["text"].startswith(rare) for text in answer["texts"])
    # The same rng_seed gives the same answer alone and batched with other requests.
    _, batched, _ = serve(service, {"n": 1, "rng_seed": 1, "min_novelty": 0}, body, {"n": 1, "seed": common})[0]
    assert [text["text"] for text in batched["texts"]] == [text["text"] for text in answer["texts"]]
    # Nothing known in it: a familiar word drawn from the request's stream, and `said` says none was taken.
    (drawn,), _ = serve(service, {"n": 1, "reply_to": "zzzzqqq?", "rng_seed": 5, "min_novelty": 0})
    assert drawn["reply"]["said"] is None and drawn["reply"]["seed"] in words


def test_a_mention_the_blocklist_refuses_is_not_answered(trained, tmp_path):
    corpus, model, _ = trained
    archive = lay_out_archive(tmp_path / "archive", corpus, model, blocklist="wizard\n")
    blocked = GenerationService.load(archive, HandlerSettings(min_chars=1), torch.device("cpu"), torch.float32)
    (answer,), stats = serve(blocked, {"n": 2, "reply_to": "you w1zard, tell me", "rng_seed": 1})
    assert answer["reply"]["refused"] == "blocklist" and answer["texts"] == []
    assert (answer["candidates"], answer["missing"], stats.candidates) == (0, 2, 0)  # nothing was generated


def test_in_a_conversation_tagged_corpus_the_texts_are_the_answer_alone(trained, archive_dir):
    corpus, model, _ = trained
    tagged = GenerationService.from_parts(
        model, corpus / "words.txt", corpus / "train.txt", [], HandlerSettings(min_chars=1), torch.device("cpu"),
        torch.float32, conversation_tags=True)
    body = {"n": 3, "reply_to": "@bot the clever fox?", "rng_seed": 2, "min_novelty": 0, "candidates": 2}
    (answer,), _ = serve(tagged, body)
    assert answer["reply"] == {"mode": "conversation", "said": None, "seed": None, "refused": None}
    assert answer["seed"] is None and answer["prompt"] is None
    for text in answer["texts"]:
        assert "<|" not in text["text"] and not text["text"].startswith("the clever fox?")
    start = tagged._start(request_from_fields(body))
    assert (start.text, start.answer_only) == ("<|sor|>the clever fox?<|eor|><|sor|>", True)


def test_an_answer_is_decoded_without_its_prompt_and_ends_at_a_tag(service):
    from serve_handler.engine import _text

    tokenizer = service.tokenizer
    prompt = encode_prompt(tokenizer, "<|sor|>hi<|eor|><|sor|>", 128)
    answer = tokenizer("the fox.<|eor|><|sor|>more", add_special_tokens=False)["input_ids"]
    assert _text(tokenizer, prompt, answer, False, answer_only=True) == ("the fox.", True)
    assert _text(tokenizer, prompt, answer[:3], False, answer_only=True)[1] is False
    assert _text(tokenizer, prompt, answer, False)[0].startswith("<|sor|>hi")


def test_served_texts_never_end_mid_sentence_whatever_the_budgets_batched_together(service):
    # Requests of short and long budgets in one batch: a text its budget cut is cut back to a sentence end (or
    # dropped), never passed as complete because a longer request kept the batch running.
    texts = []
    for batch in range(10):
        bodies = [{"n": 4, "candidates": 2, "max_new_tokens": budget, "rng_seed": batch * 10 + index,
                   "min_novelty": 0} for index, budget in enumerate((3, 5, 8, 13, 40, 64, 6, 9))]
        answers, _ = serve(service, *bodies)
        texts += [(text["text"], text["seed"]) for answer in answers for text in answer["texts"]]
    assert len(texts) > 200
    # The one exception: a single word, the seed and what the model put to it before it ended the line itself (a
    # complete line, which an archive's min_chars keeps out; this service's is 1).
    assert [text for text, seed in texts if not text.endswith((".", "!", "?"))
            and not (text.startswith(seed) and " " not in text)] == []
