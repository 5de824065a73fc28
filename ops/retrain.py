"""`lorecast retrain`: the loop closed. A ledger's engagement becomes a new selector, which replaces the served one
only when it ranks the audience's newest verdicts at least as well.

    retrain(mar, corpus_dir, EngagementOptions(ledger, ...), RetrainOptions(...), output=None, progress=False)
        -> RetrainResult(accepted, old_roc_auc, new_roc_auc, held_out, selector_dir, output, version)

Steps:
1. The served `.mar` is unpacked: its generator (with the training metadata lorecast-archive.json keeps) is the
   model the new selector reads features from, and its selector, if any, is the one to beat.
2. The ledger's posts are labelled at one age (trainer/selector_ledger.py). The newest `held_out` share of the
   labelled posts is kept aside: the comparison asks "which selector would have ranked what came last better",
   the question a deployment answers next. Older posts train.
3. A selector is trained in engagement mode (bootstrap + engagement: trainer/selector_training.py) without the
   held-out posts.
4. Both selectors score the held-out posts, shaped as served candidates; ROC-AUC against their labels. A `.mar`
   without a selector ranks by log-probability alone, which knows nothing of the audience: it counts as 0.5.
5. Not worse (new >= old - tolerance): the `.mar` is repacked with the new selector as the next version
   (ops/repack.py). Worse: nothing is written, and the result says so.
Registering the new version with TorchServe is the command's job (ops/management.py).
"""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from lorecast.errors import LorecastError
from ops.repack import MarInfo, read_mar, repack, unpack
from serve_handler import layout
from trainer.model_dir import METADATA_FILE
from trainer.selector_ledger import EngagementOptions, read_engagement
from trainer.selector_training import MIN_HELD_OUT_FOR_AUC, SelectorOptions

NO_SELECTOR_ROC_AUC = 0.5  # what ranking by log-probability knows of the audience's taste


@dataclass(frozen=True)
class RetrainOptions:
    held_out: float = 0.3  # newest share of the labelled posts kept aside for the comparison
    tolerance: float = 0.0  # the new selector may be this much worse and still replace the old one
    layers: tuple[int, ...] | None = None  # None: the served selector's, or the default without one
    selector: SelectorOptions = field(default_factory=SelectorOptions)


@dataclass(frozen=True)
class RetrainResult:
    accepted: bool
    old_roc_auc: float  # of the served selector on the held-out posts (NO_SELECTOR_ROC_AUC without one)
    new_roc_auc: float
    held_out: dict[str, int]  # {"positive", "negative"}: the held-out posts scored
    served: MarInfo  # the .mar retrained against
    selector_dir: str  # the new selector (inside the work dir when no output was written)
    output: str | None  # the new .mar, when accepted
    version: str | None  # its model version


def retrain(mar: str | Path, corpus_dir: str | Path, engagement: EngagementOptions, output: str | Path,
            options: RetrainOptions = RetrainOptions(), work_dir: str | Path | None = None,
            progress: bool = False, force: bool = False) -> RetrainResult:
    """See the module docstring. `work_dir` (default: a temp dir removed afterwards) keeps the unpacked `.mar`
    and the new selector."""
    if not 0 < options.held_out < 1:
        raise LorecastError(f"--held-out must be between 0 and 1, got {options.held_out:g}")
    output = Path(output)
    if output.exists() and not force:
        raise LorecastError(f"{output}: already exists (use --force to replace it)")
    served = read_mar(mar)
    if work_dir is None:
        with tempfile.TemporaryDirectory(prefix="lorecast-retrain-") as temporary:
            return _retrain(Path(mar), served, Path(corpus_dir), engagement, output, options, Path(temporary),
                            progress, force)
    return _retrain(Path(mar), served, Path(corpus_dir), engagement, output, options, Path(work_dir), progress,
                    force)


def _retrain(mar: Path, served: MarInfo, corpus_dir: Path, engagement: EngagementOptions, output: Path,
             options: RetrainOptions, work: Path, progress: bool, force: bool) -> RetrainResult:
    from sklearn.metrics import roc_auc_score

    from trainer.selector_training import train_selector

    unpacked = work / "served"
    unpack(mar, unpacked)
    model_dir = unpacked / layout.GENERATOR_DIR
    (model_dir / METADATA_FILE).write_text(json.dumps(served.manifest["generator"]["training"], indent=2) + "\n",
                                           encoding="utf-8")
    old_selector = unpacked / layout.SELECTOR_DIR
    labels = read_engagement(engagement)
    held_texts, held_labels = _held_out(labels.labelled, options.held_out)
    scored_texts, scored_labels = _shaped(model_dir, held_texts, held_labels)

    selector_options = replace(options.selector, force=True, layers=_layers(old_selector, options))
    new_selector = work / "selector"
    result = train_selector(model_dir, corpus_dir, new_selector, selector_options,
                            engagement=replace(engagement, held_back=frozenset(held_texts)), progress=progress)
    selectors = [new_selector, old_selector] if old_selector.is_dir() else [new_selector]
    aucs = [float(roc_auc_score(scored_labels, scores)) for scores in _scores(model_dir, selectors, scored_texts)]
    new_auc, old_auc = aucs[0], aucs[1] if len(aucs) > 1 else NO_SELECTOR_ROC_AUC
    accepted = new_auc >= old_auc - options.tolerance
    held = {"positive": sum(scored_labels), "negative": len(scored_labels) - sum(scored_labels)}
    _note_comparison(new_selector, served, old_auc, new_auc, held, options, labels.options)
    if not accepted:
        return RetrainResult(False, old_auc, new_auc, held, served, result.selector_dir, None, None)
    packed = repack(mar, new_selector, output, force=force)
    return RetrainResult(True, old_auc, new_auc, held, served, result.selector_dir, str(output), packed.version)


def _held_out(labelled: list[tuple[str, int]], share: float) -> tuple[list[str], list[int]]:
    """The newest `share` of the labelled posts (they are oldest first); an error when too few of a label."""
    count = math.ceil(len(labelled) * share)
    newest = labelled[len(labelled) - count:]
    positives = sum(label for _, label in newest)
    if min(positives, len(newest) - positives) < MIN_HELD_OUT_FOR_AUC:
        raise LorecastError(
            f"the newest {share:.0%} of the {len(labelled)} labelled posts hold {positives} positives and "
            f"{len(newest) - positives} negatives; at least {MIN_HELD_OUT_FOR_AUC} of each are needed to compare "
            "selectors (collect engagement of more posts, or raise --held-out)"
        )
    return [text for text, _ in newest], [label for _, label in newest]


def _shaped(model_dir: Path, texts: list[str], labels: list[int]) -> tuple[list[str], list[int]]:
    """The held-out posts as served candidates look (what both selectors scored when they were served)."""
    from transformers import AutoConfig, AutoTokenizer

    from trainer.selector_examples import HandlerShape, engagement_examples

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    shape = HandlerShape.from_defaults(AutoConfig.from_pretrained(model_dir).n_positions)
    shaped = engagement_examples(list(zip(texts, labels)), tokenizer, shape, exclude=())
    return [text for text, _ in shaped], [label for _, label in shaped]


def _layers(old_selector: Path, options: RetrainOptions) -> tuple[int, ...]:
    """The layers asked for, else the served selector's (the new one is then trained like it), else the default."""
    if options.layers is not None:
        return options.layers
    if not old_selector.is_dir():
        return options.selector.layers
    return tuple(json.loads((old_selector / "selector.json").read_text(encoding="utf-8"))["layers"])


def _scores(model_dir: Path, selector_dirs: list[Path], texts: list[str]) -> list[list[float]]:
    """Each selector's probabilities for `texts`, with the generator loaded once for all of them."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from serve_handler.device import choose_local_device
    from serve_handler.selector import Selector

    device, dtype = choose_local_device()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype).to(device).eval()
    with torch.inference_mode():
        return [Selector.load(directory, device).probabilities(model, tokenizer, texts) for directory in selector_dirs]


def _note_comparison(selector_dir: Path, served: MarInfo, old_auc: float, new_auc: float, held: dict[str, int],
                     options: RetrainOptions, engagement: EngagementOptions) -> None:
    """selector.json's trained_on["retrain"]: what the new selector was compared with, and how it did."""
    path = selector_dir / "selector.json"
    config: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    config["trained_on"]["retrain"] = {
        "against": {"model_name": served.name, "version": served.version},
        "held_out": {"share": options.held_out, **held},
        "old_roc_auc": old_auc,
        "new_roc_auc": new_auc,
        "tolerance": options.tolerance,
        "engagement": {key: value for key, value in asdict(engagement).items() if key != "held_back"},
    }
    path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
