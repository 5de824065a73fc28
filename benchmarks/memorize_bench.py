"""Does the novelty filter keep a generator that learnt its corpus by heart from serving copies?

    .venv/bin/python benchmarks/memorize_bench.py [--lines 200] [--epochs 60] [--requests 40] [--json FILE]

1. Corpus: LINES definitions from the Jargon File (dataset/demo), each of at least MIN_SENTENCES sentences (by the
   corpus build's splitter) and at most MAX_LINE_CHARS characters, drawn with a seeded shuffle. The seed words are
   the lines' first words, in the casing the lines open with, so an unprompted request opens a line the model knows.
2. Generator: a GPT-2 of the tiny preset's shape trained from scratch by trainer.generator (what `lorecast train
   generator` runs) for EPOCHS epochs on CPU: enough to reproduce most lines word for word.
3. Serving: `lorecast archive` with its defaults (ops.archive.build_archive), the .mar extracted and served by the
   worker's own GenerationService with the archive's handler settings, as TorchServe's handler loads it.
4. Requests: REQUESTS bodies with the schema's defaults but `n` (texts asked per request) and a distinct rng_seed,
   sent in batches of BATCH; once as they are (the default min_novelty, the filter on) and once with min_novelty
   0 (the novelty filter off; the other filters still run).
5. A served text is a near copy when the whole text, or one of its sentences of at least MIN_SENTENCE_WORDS words
   (the filter's minimum, serve_handler/novelty.py), has normalized Levenshtein similarity >= NEAR_COPY to some
   training line or training sentence, found by a brute-force rapidfuzz scan over all of them (not the index).
   "any sentence" also counts shorter sentences (stock phrases such as "See also foo.", which the filter lets
   through on purpose), for information.

Prints one row per mode: texts served, near copies and their rate, texts holding a training sentence verbatim
(after normalization), and the novelty filter's rejections; then the training result. The goal: 0 near copies
with the filter, and many without it (the model did memorize). --json also writes the rows to a file.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import yaml
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from dataset.corpus_writer import write_corpus
from dataset.sentences import split_sentences
from ops.archive import ServingOptions, build_archive
from serve_handler import layout
from serve_handler.novelty import MIN_SENTENCE_WORDS, training_texts
from serve_handler.service import GenerationService
from serve_handler.settings import HandlerSettings
from textrules.forms import novelty_form
from trainer.generator import GeneratorOptions, train_generator
from trainer.presets import PRESETS, Preset

JARGON = Path(__file__).resolve().parent.parent / "dataset" / "demo" / "jargon-4.4.7.jsonl"
MIN_SENTENCES = 3
MAX_LINE_CHARS = 400
NEAR_COPY = 0.9
WORD = re.compile(r"\w+")  # a word as the filter counts them
BATCH = 8
TEXTS_PER_REQUEST = 4
TEST_LINES = 10
# The tiny preset's shape with a vocabulary that fits a few hundred lines.
PRESET = Preset("memorize", n_layer=3, n_head=4, n_embd=160, context=128, vocab_size=2048,
                learning_rate=PRESETS["tiny"].learning_rate, dropout=0.0)
HEADER = (f"{'filter':<22} {'texts':>6} {'near copies':>12} {'rate':>7} {'any sentence':>13} "
          f"{'verbatim':>9} {'novelty rej.':>13}")


@dataclass(frozen=True)
class Row:
    mode: str
    min_novelty: float | None  # None: the request's default
    texts: int
    near_copies: int
    near_copy_rate: float
    near_copies_any_sentence: int  # also counting sentences shorter than MIN_SENTENCE_WORDS
    verbatim: int  # a whole text or one of its checked sentences equal to a training text after normalization
    novelty_rejected: int
    examples: list[str]  # a few near copies, for a look


def corpus_lines(count: int, seed: int) -> tuple[list[str], list[str]]:
    """(train, test): `count` and TEST_LINES multi-sentence definitions, drawn with `seed`."""
    definitions = [json.loads(line)["definition"] for line in JARGON.read_text(encoding="utf-8").splitlines()]
    eligible = [text for text in definitions
                if len(text) <= MAX_LINE_CHARS and len(split_sentences(text)) >= MIN_SENTENCES]
    random.Random(seed).shuffle(eligible)
    if len(eligible) < count + TEST_LINES:
        sys.exit(f"only {len(eligible)} definitions qualify; ask for at most {len(eligible) - TEST_LINES} lines")
    return eligible[:count], eligible[count:count + TEST_LINES]


def seed_words(lines: list[str]) -> list[tuple[str, int, str]]:
    """words.txt rows (word, count, form): each line's first word as it opens the line, most frequent first."""
    counts: dict[str, list] = {}
    for line in lines:
        form = line.split()[0]
        if form.isalpha():
            counts.setdefault(form.lower(), [0, form])[0] += 1
    ranked = sorted(counts.items(), key=lambda item: -item[1][0])
    return [(word, count, form) for word, (count, form) in ranked]


class CopyScanner:
    """Brute force: the highest similarity of a piece of text to any training line or sentence."""

    def __init__(self, lines: list[str]) -> None:
        texts = {novelty_form(text) for text in training_texts(lines)}  # what the archive indexes
        self.texts = sorted(text for text in texts if text)
        self.exact = set(self.texts)

    def similarity(self, piece: str) -> float:
        return process.extractOne(novelty_form(piece), self.texts, scorer=Levenshtein.normalized_similarity)[1]

    def judge(self, text: str) -> tuple[bool, bool, bool]:
        """(near copy, near copy counting every sentence, verbatim) for one served text."""
        sentences = split_sentences(text)
        checked = [text] + [s for s in sentences if len(WORD.findall(s)) >= MIN_SENTENCE_WORDS]
        short = [s for s in sentences if s not in checked]
        near = any(self.similarity(piece) >= NEAR_COPY for piece in checked)
        near_any = near or any(self.similarity(piece) >= NEAR_COPY for piece in short)
        verbatim = any(novelty_form(piece) in self.exact for piece in checked)
        return near, near_any, verbatim


def train(work: Path, lines: int, epochs: float, seed: int) -> tuple[Path, Path, list[str], dict]:
    train_lines, test_lines = corpus_lines(lines, seed)
    corpus = work / "corpus"
    write_corpus(corpus, train_lines, test_lines, seed_words(train_lines), meta={})
    model = work / "model"
    options = GeneratorOptions(preset=PRESET, epochs=epochs, batch_size=8, warmup=0.02, seed=seed,
                               save_every=10**9)
    result = train_generator(corpus, model, options)
    return corpus, model, train_lines, {"train_loss": result.train_loss, "eval_loss": result.eval_loss,
                                        "steps": result.steps, "wall_seconds": result.wall_seconds}


def serve_all(service: GenerationService, requests: int, min_novelty: float | None) -> tuple[list[str], int]:
    """The texts served for `requests` default bodies (rng_seed 1..), and the novelty filter's rejections."""
    texts, rejected = [], 0
    bodies = []
    for rng_seed in range(1, requests + 1):
        body = {"n": TEXTS_PER_REQUEST, "rng_seed": rng_seed}
        if min_novelty is not None:
            body["min_novelty"] = min_novelty
        bodies.append((json.dumps(body).encode("utf-8"), "application/json"))
    for start in range(0, len(bodies), BATCH):
        answers, stats = service.serve(bodies[start:start + BATCH])
        for answer in answers:
            if not isinstance(answer, dict):
                raise SystemExit(f"a request failed: {answer}")
            texts += [item["text"] for item in answer["texts"]]
        rejected += stats.rejected.get("novelty", 0)
    return texts, rejected


def measure(service: GenerationService, scanner: CopyScanner, requests: int, mode: str,
            min_novelty: float | None) -> Row:
    texts, rejected = serve_all(service, requests, min_novelty)
    verdicts = [scanner.judge(text) for text in texts]
    near = [text for text, (is_near, _, _) in zip(texts, verdicts) if is_near]
    return Row(mode, min_novelty, len(texts), len(near), len(near) / len(texts) if texts else 0.0,
               sum(any_sentence for _, any_sentence, _ in verdicts), sum(v for _, _, v in verdicts), rejected,
               near[:3])


def format_row(row: Row) -> str:
    return (f"{row.mode:<22} {row.texts:>6} {row.near_copies:>12} {row.near_copy_rate:>7.1%} "
            f"{row.near_copies_any_sentence:>13} {row.verbatim:>9} {row.novelty_rejected:>13}")


def run(lines: int, epochs: float, requests: int, seed: int, work: Path) -> tuple[list[Row], dict]:
    started = time.perf_counter()
    corpus, model, train_lines, training = train(work, lines, epochs, seed)
    training["train_minutes"] = (time.perf_counter() - started) / 60
    mar = build_archive(model, corpus, work / "store" / "memorize.mar", options=ServingOptions())
    extracted = work / "extracted"
    with zipfile.ZipFile(mar) as archive:
        archive.extractall(extracted)
    loaded = time.perf_counter()
    # As handler.py reads them: the archive's model-config.yaml `handler:` section.
    section = yaml.safe_load((extracted / layout.MODEL_CONFIG).read_text(encoding="utf-8"))["handler"]
    settings = HandlerSettings.from_section(section)
    service = GenerationService.load(extracted, settings, torch.device("cpu"), torch.float32)
    training["service_load_seconds"] = time.perf_counter() - loaded
    scanner = CopyScanner(train_lines)
    rows = [measure(service, scanner, requests, "filter on (default)", None),
            measure(service, scanner, requests, "filter off (0)", 0.0)]
    training["training_texts"] = len(scanner.texts)
    return rows, training


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=200, help="training lines (multi-sentence definitions)")
    parser.add_argument("--epochs", type=float, default=60.0, help="training epochs")
    parser.add_argument("--requests", type=int, default=40, help=f"requests per mode, {TEXTS_PER_REQUEST} texts each")
    parser.add_argument("--seed", type=int, default=0, help="seed of the line draw and of training")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    args = parser.parse_args()
    torch.set_num_threads(min(torch.get_num_threads(), 2))
    with tempfile.TemporaryDirectory(prefix="lorecast-memorize-") as work:
        rows, training = run(args.lines, args.epochs, args.requests, args.seed, Path(work))
    print(f"{args.lines} training lines ({training['training_texts']} distinct lines and sentences), "
          f"{args.epochs:g} epochs: train loss {training['train_loss']:.3f}, "
          f"held-out loss {training['eval_loss']:.3f}, "
          f"{training['steps']} steps in {training['train_minutes']:.1f} min")
    print(f"near copy: similarity >= {NEAR_COPY} of the whole text or a sentence of >= {MIN_SENTENCE_WORDS} words "
          "to a training line or sentence (brute-force scan)")
    print(HEADER)
    for row in rows:
        print(format_row(row))
    for row in rows:
        for example in row.examples[:2]:
            print(f"  e.g. ({row.mode}): {example!r}")
    if args.json is not None:
        document = {"lines": args.lines, "epochs": args.epochs, "requests": args.requests, "seed": args.seed,
                    "near_copy_similarity": NEAR_COPY, "min_sentence_words": MIN_SENTENCE_WORDS,
                    "training": training, "rows": [asdict(row) for row in rows]}
        args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
