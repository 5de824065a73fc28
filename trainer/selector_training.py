"""Train the selector: tell held-out corpus lines from the generator's own samples (bootstrap), and, once posts
have engagement, well-received posts from poorly received ones as well.

Before any audience has reacted to a post, "worth posting" is approximated by "reads like the corpus": positives
are test.txt lines (held out from the generator's training), negatives are what the generator writes when the
handler serves it with default settings, both in the shape of served candidates (trainer/selector_examples.py).
With an `EngagementOptions` (`--ledger`), the posters' ledger adds its posted texts labelled by engagement against
the posts around them in time (trainer/selector_ledger.py), in the same shape: the bootstrap examples keep the
selector on corpus-like text, the engagement ones say what the audience prefers among such texts.

    train_selector(model_dir, corpus_dir, out_dir, SelectorOptions(...), engagement=None, progress=False)
        -> SelectorResult

Steps: features of every text from the frozen generator, computed once (`serve_handler.selector.text_features`:
the pooled hidden states of `layers` and the `token_stats`, all of `TOKEN_STATS` by default);
a seeded 70/15/15 split into train / val / calibration, stratified by label and source (bootstrap or
engagement); the head trained on train with early stopping on val (trainer/selector_head.py), with dropout on
the pooled states; Platt calibration
fitted on the calibration split's logits. ROC-AUC is measured on val (the head's logits) and on the calibration
split (the calibrated probabilities); with engagement, also on the engagement examples of val and calibration
together, when they hold at least `MIN_HELD_OUT_FOR_AUC` of each label. The selector dir (contract 3) is written
whole or not at all (trainer/selector_dir.py); its selector.json holds

    "metrics":    val_roc_auc, calibration_roc_auc, val_loss (BCE at the kept step), calibration_log_loss
                  (of the calibrated probabilities), counts {split: {"positive", "negative"}} of all examples;
                  with engagement also engagement_roc_auc (null when too few) and
                  engagement_held_out {"positive", "negative"}
    "trained_on": mode "bootstrap" or "bootstrap+engagement"; generator {model_dir, weights_sha256 (of
                  model.safetensors, as the archive manifest hashes it), training_metadata_sha256 (of
                  lorecast-training.json), corpus_content_hash}; corpus {path, content_hash}; positives, negatives
                  (the bootstrap's), negatives_generated; steps, best_step, stopped_by_time_budget, wall_seconds;
                  options; library versions; with engagement also engagement {ledger, ledger_sha256, platform,
                  posts_with_metrics (read at the age), left_out {too_young, no_snapshot_near}, labelled
                  {"positive", "negative"} (by label_by_engagement), used {"positive", "negative"} (after shaping),
                  options {at_age_hours, pool_platforms, window_days, quantile, min_window_posts}}

`--max-minutes` covers the whole run: generating negatives may use half of it (the texts drawn by then are kept),
head training stops at the deadline with the best weights so far.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import sklearn
import torch
import transformers
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import train_test_split
from tqdm import tqdm
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from dataset.corpus import TEST_FILE, WORDS_FILE, load_corpus
from dataset.hashing import sha256_file
from lorecast.errors import LorecastError
from serve_handler.device import choose_local_device
from serve_handler.seeds import SeedWords
from serve_handler.selector import TOKEN_STATS, Selector, text_features
from serve_handler.settings import HandlerSettings
from trainer.model_dir import METADATA_FILE, read_metadata
from trainer.selector_dir import check_selector_output, write_selector_dir
from trainer.selector_examples import HandlerShape, engagement_examples, generate_negatives, positives
from trainer.selector_head import fit_calibration, train_head
from trainer.selector_ledger import EngagementOptions, LedgerLabels, read_engagement

log = logging.getLogger(__name__)

MIN_NEGATIVES = 20  # fewer cannot be split 70/15/15 with both classes in every part
MIN_ENGAGEMENT_EXAMPLES = 10  # of each label: fewer cannot be split 70/15/15 with some in every part
MIN_HELD_OUT_FOR_AUC = 10  # of each label among the held-out engagement examples, for their ROC-AUC to mean much
FEATURE_BATCH = 64


@dataclass(frozen=True)
class SelectorOptions:
    layers: tuple[int, ...] = (-1,)  # indices into the generator's hidden states: 0 embeddings, -1 last block
    hidden_size: int = 64
    # How the generator predicts each text token (serve_handler/selector.py); () for pooled hidden states alone.
    # On the demo they took the held-out ROC-AUC from 0.69-0.78 to 0.86-0.92 (3 seeds, --layers -1,-2).
    token_stats: tuple[str, ...] = TOKEN_STATS
    pooled_dropout: float = 0.5  # in training, on the pooled hidden states
    # Standardize the pooled states over the training split. On the demo's bootstrap it cost about 0.02 ROC-AUC;
    # on an audience's taste in words (tests/poster/test_retrain_loop.py) it made the difference: `retrain` sets it.
    standardize_pooled: bool = False
    negatives: int | None = None  # None: as many as there are positives
    min_positives: int = 50
    rng_seed: int = 1234
    max_minutes: float | None = None
    force: bool = False


@dataclass(frozen=True)
class EngagementSummary:
    options: EngagementOptions
    ledger_sha256: str
    posts: int  # posted posts with engagement read at the age
    too_young: int  # left out: posted less than the age ago
    no_snapshot_near: int  # left out: no feedback snapshot near the age
    labelled_positives: int  # by label_by_engagement
    labelled_negatives: int
    positives: int  # trained on, after shaping
    negatives: int
    held_out_positives: int  # in val and calibration
    held_out_negatives: int
    roc_auc: float | None  # on the held-out ones; None when fewer than MIN_HELD_OUT_FOR_AUC of a label

    def metrics(self) -> dict[str, Any]:
        return {"engagement_roc_auc": self.roc_auc,
                "engagement_held_out": {"positive": self.held_out_positives, "negative": self.held_out_negatives}}

    def provenance(self) -> dict[str, Any]:
        """selector.json's trained_on["engagement"]."""
        return {
            "ledger": self.options.ledger,
            "ledger_sha256": self.ledger_sha256,
            "platform": self.options.platform,
            "posts_with_metrics": self.posts,
            "left_out": {"too_young": self.too_young, "no_snapshot_near": self.no_snapshot_near},
            "labelled": {"positive": self.labelled_positives, "negative": self.labelled_negatives},
            "used": {"positive": self.positives, "negative": self.negatives},
            "options": {"at_age_hours": self.options.at_age_hours, "pool_platforms": self.options.pool_platforms,
                        "window_days": self.options.window_days, "quantile": self.options.quantile,
                        "min_window_posts": self.options.min_window_posts},
        }


@dataclass(frozen=True)
class SelectorResult:
    selector_dir: str
    val_roc_auc: float
    calibration_roc_auc: float
    positives: int  # the bootstrap's
    negatives: int
    steps: int
    wall_seconds: float
    stopped_by_time_budget: bool
    engagement: EngagementSummary | None = None


def train_selector(
    model_dir: str | Path,
    corpus_dir: str | Path,
    out_dir: str | Path,
    options: SelectorOptions = SelectorOptions(),
    engagement: EngagementOptions | None = None,
    progress: bool = False,
) -> SelectorResult:
    """Train a selector for the generator in `model_dir` (bootstrap, plus `engagement` when given) and write it to
    `out_dir`."""
    started = time.monotonic()
    deadline = math.inf if options.max_minutes is None else started + options.max_minutes * 60
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    model_meta = read_metadata(model_dir)
    corpus = load_corpus(corpus_dir)
    inputs = [model_dir, corpus.path] + ([Path(engagement.ledger)] if engagement else [])
    _refuse_to_overwrite_inputs(out_dir, *inputs)
    check_selector_output(out_dir, options.force)
    if not corpus.words:
        raise LorecastError(f"{corpus.path / WORDS_FILE}: no seed words in it (the negatives start from them)")
    ledger = read_engagement(engagement) if engagement else None
    if corpus.content_hash != model_meta.get("corpus_content_hash"):
        log.warning("warning: %s is not the corpus %s was trained on; its test.txt lines may not be held out",
                    corpus.path, model_dir)

    device, dtype = choose_local_device()  # the worker's rule: the GPU in fp16 (the features it will see), else fp32
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype).to(device).eval()
    layers = _check_layers(options.layers, model.config.n_layer)
    token_stats = _check_token_stats(options.token_stats)
    shape = HandlerShape.from_defaults(model.config.n_positions)

    good = positives(corpus.test, tokenizer, shape)
    if len(good) < options.min_positives:
        raise LorecastError(
            f"{corpus.path / TEST_FILE}: {len(good)} usable held-out lines, at least {options.min_positives} needed "
            f"(a line counts when, cut to {shape.max_tokens} tokens at a sentence end, it is "
            f"{shape.min_chars}-{shape.max_chars} characters long)"
        )
    wanted = options.negatives or len(good)
    log.info("%d positives from %s; generating %d negatives", len(good), corpus.path / TEST_FILE, wanted)
    posted = [] if ledger is None else _usable_engagement(ledger, tokenizer, shape, exclude=set(good))
    # Read the way the worker reads it, so that negatives start with the forms served texts start with.
    seed_words = SeedWords.from_file(corpus.path / WORDS_FILE, HandlerSettings().familiar_words)
    draw = generate_negatives(
        model, tokenizer, seed_words, wanted, shape, options.rng_seed,
        exclude=set(corpus.train) | set(good) | {text for text, _ in posted},
        deadline=started + (deadline - started) / 2,  # half the budget; the rest is for features and the head
        progress=progress,
    )
    if len(draw.texts) < MIN_NEGATIVES:
        raise LorecastError(
            f"{model_dir}: only {len(draw.texts)} usable negatives from {draw.generated} generated texts "
            f"(at least {MIN_NEGATIVES} needed; most were cut away, too short or too long, or copies of training lines)"
        )
    if len(draw.texts) < wanted:
        log.warning("warning: %d of %d negatives wanted (%d texts generated%s)", len(draw.texts), wanted,
                    draw.generated, ", stopped by --max-minutes" if draw.stopped_by_time_budget else "")

    texts = good + draw.texts + [text for text, _ in posted]
    labels = torch.tensor([1] * len(good) + [0] * len(draw.texts) + [label for _, label in posted])
    from_ledger = torch.tensor([False] * (len(good) + len(draw.texts)) + [True] * len(posted))
    features = _features(model, tokenizer, texts, layers, token_stats, progress)
    train, val, calibration = _split(labels + 2 * from_ledger, options.rng_seed)
    fit = train_head(
        features[train], labels[train], features[val], labels[val],
        hidden_size=options.hidden_size, stat_count=len(token_stats), pooled_dropout=options.pooled_dropout,
        standardize_pooled=options.standardize_pooled,
        seed=options.rng_seed, deadline=deadline, progress=progress,
    )
    with torch.inference_mode():
        val_logits, calibration_logits = fit.head(features[val]).cpu(), fit.head(features[calibration]).cpu()
    calibrated = fit_calibration(calibration_logits, labels[calibration])
    probabilities = calibrated.probability(calibration_logits)
    metrics: dict[str, Any] = {
        "val_roc_auc": float(roc_auc_score(labels[val].numpy(), val_logits.numpy())),
        "calibration_roc_auc": float(roc_auc_score(labels[calibration].numpy(), probabilities.numpy())),
        "val_loss": fit.val_loss,
        "calibration_log_loss": float(log_loss(labels[calibration].numpy(), probabilities.double().numpy(),
                                               labels=[0, 1])),
        "counts": {name: {"positive": int(labels[part].sum()), "negative": int((labels[part] == 0).sum())}
                   for name, part in (("train", train), ("val", val), ("calibration", calibration))},
    }
    summary = None
    if ledger is not None:
        held_out = torch.cat([val, calibration])
        posted_held_out = from_ledger[held_out]
        summary = _summarize(ledger, posted, labels[held_out][posted_held_out],
                             torch.cat([val_logits, calibration_logits])[posted_held_out])
        metrics |= summary.metrics()
    stopped = draw.stopped_by_time_budget or fit.stopped_by_time_budget
    wall_seconds = round(time.monotonic() - started, 2)
    trained_on: dict[str, Any] = {
        "mode": "bootstrap" if summary is None else "bootstrap+engagement",
        "generator": {
            "model_dir": str(model_dir),
            "weights_sha256": sha256_file(model_dir / "model.safetensors"),
            "training_metadata_sha256": sha256_file(model_dir / METADATA_FILE),
            "corpus_content_hash": model_meta.get("corpus_content_hash"),
        },
        "corpus": {"path": str(corpus.path), "content_hash": corpus.content_hash},
        "positives": len(good),
        "negatives": len(draw.texts),
        "negatives_generated": draw.generated,
        "steps": fit.steps,
        "best_step": fit.best_step,
        "stopped_by_time_budget": stopped,
        "wall_seconds": wall_seconds,
        "options": {**asdict(options), "layers": layers, "token_stats": token_stats},
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "scikit-learn": sklearn.__version__},
    }
    if summary is not None:
        trained_on["engagement"] = summary.provenance()
    write_selector_dir(Selector(fit.head, layers, calibrated, token_stats=token_stats), out_dir, metrics, trained_on,
                       options.force)
    return SelectorResult(str(out_dir), metrics["val_roc_auc"], metrics["calibration_roc_auc"], len(good),
                          len(draw.texts), fit.steps, wall_seconds, stopped, summary)


def _usable_engagement(
    ledger: LedgerLabels, tokenizer: PreTrainedTokenizerBase, shape: HandlerShape, exclude: set[str]
) -> list[tuple[str, int]]:
    """The ledger's labelled texts in candidate shape; a one-line error when too few of a label are left."""
    options = ledger.options
    posted = engagement_examples(ledger.labelled, tokenizer, shape, exclude)
    good = sum(label for _, label in posted)
    if min(good, len(posted) - good) < MIN_ENGAGEMENT_EXAMPLES:
        scope = f" {options.platform}" if options.platform else ""
        raise LorecastError(
            f"{options.ledger}: {ledger.posts}{scope} posts with engagement give {good} usable positives and "
            f"{len(posted) - good} negatives, at least {MIN_ENGAGEMENT_EXAMPLES} of each needed (collect "
            f"engagement of more posts, or raise --quantile)"
        )
    log.info("%d positives and %d negatives from the engagement in %s", good, len(posted) - good, options.ledger)
    return posted


def _summarize(ledger: LedgerLabels, posted: list[tuple[str, int]], held_out_labels: torch.Tensor,
               held_out_logits: torch.Tensor) -> EngagementSummary:
    labelled_good = sum(label for _, label in ledger.labelled)
    used_good = sum(label for _, label in posted)
    held_good = int(held_out_labels.sum())
    held_bad = len(held_out_labels) - held_good
    roc_auc = (float(roc_auc_score(held_out_labels.numpy(), held_out_logits.numpy()))
               if min(held_good, held_bad) >= MIN_HELD_OUT_FOR_AUC else None)
    return EngagementSummary(ledger.options, ledger.ledger_sha256, ledger.posts, ledger.too_young,
                             ledger.no_snapshot_near, labelled_good,
                             len(ledger.labelled) - labelled_good, used_good, len(posted) - used_good, held_good,
                             held_bad, roc_auc)


def _refuse_to_overwrite_inputs(out_dir: Path, *inputs: Path) -> None:
    out = out_dir.resolve()
    for path in inputs:
        if out == path.resolve() or out in path.resolve().parents:
            raise LorecastError(f"{out_dir}: the output dir would hold the input dir {path}")


def _check_layers(layers: tuple[int, ...], n_layer: int) -> list[int]:
    """The layers as given, when each indexes the model's hidden states (n_layer blocks + the embeddings)."""
    if not layers:
        raise LorecastError("--layers: give at least one layer index")
    for layer in layers:
        if not -(n_layer + 1) <= layer <= n_layer:
            raise LorecastError(
                f"--layers {layer}: out of range for this generator's {n_layer + 1} hidden states, "
                f"{-(n_layer + 1)}..{n_layer} (0 is the embeddings, -1 the last layer)"
            )
    normalized = [layer % (n_layer + 1) for layer in layers]
    if len(set(normalized)) < len(normalized):
        raise LorecastError(f"--layers {','.join(map(str, layers))}: names the same layer twice")
    return list(layers)


def _check_token_stats(token_stats: tuple[str, ...]) -> list[str]:
    unknown = [name for name in token_stats if name not in TOKEN_STATS]
    if unknown:
        raise LorecastError(f"token statistics {', '.join(unknown)}: unknown (known: {', '.join(TOKEN_STATS)})")
    if len(set(token_stats)) < len(token_stats):
        raise LorecastError(f"token statistics {', '.join(token_stats)}: one is named twice")
    return list(token_stats)


def _features(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: list[str], layers: list[int],
    token_stats: list[str], progress: bool,
) -> torch.Tensor:
    """text_features in chunks, so that a bar can show how far it is."""
    chunks = [
        text_features(model, tokenizer, texts[start : start + FEATURE_BATCH], layers, token_stats=token_stats)
        for start in tqdm(range(0, len(texts), FEATURE_BATCH), desc="reading features", unit="batch",
                          file=sys.stderr, disable=None if progress else True)
    ]
    return torch.cat(chunks)


def _split(strata: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Indices of a 70/15/15 train / val / calibration split, stratified by `strata` (label, or label and source)."""
    indices = torch.arange(len(strata)).numpy()
    state = seed % 2**32  # scikit-learn's random_state range
    train, rest = train_test_split(indices, test_size=0.3, stratify=strata.numpy(), random_state=state)
    val, calibration = train_test_split(rest, test_size=0.5, stratify=strata[rest].numpy(), random_state=state)
    return torch.from_numpy(train), torch.from_numpy(val), torch.from_numpy(calibration)


