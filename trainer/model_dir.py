"""Contract 2, the model dir, written by `lorecast train generator` and read by `train sample`,
the selector trainer and the archive builder.

    config.json              GPT2LMHeadModel config (Hugging Face `save_pretrained`)
    generation_config.json   generation defaults; pad and eos are `<|endoftext|>`
    model.safetensors        the weights; a model dir never holds pickles
    tokenizer.json           the fast tokenizer (byte-level BPE), with tokenizer_config.json
    lorecast-training.json   training metadata, see below; written LAST, so a dir without it is
                             an unfinished save and is refused by every reader
    checkpoints/             only with --keep-checkpoints or after an interrupted run: the Trainer's
                             checkpoints for --resume. They hold torch pickles (optimizer, RNG
                             state), so they are not part of the model and are deleted after a
                             finished run by default.

Load it with `AutoModelForCausalLM.from_pretrained(dir)` and `AutoTokenizer.from_pretrained(dir)`.
A prompt of `<|endoftext|>` + a word starts a generation like a corpus line; a line ends at
`<|endoftext|>` (or a newline).

lorecast-training.json holds one JSON object with the fields of `TrainingResult`: preset or base,
corpus path and content_hash, eval loss/perplexity on test.txt before and after training, mean
train loss, steps, epochs, tokens seen, wall time, whether --max-minutes stopped the run, the
options used, parameter count, library versions and seed.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from lorecast.errors import LorecastError
from lorecast.output_dir import check_replaceable

METADATA_FILE = "lorecast-training.json"
CHECKPOINTS_DIR = "checkpoints"
REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json", METADATA_FILE)


@dataclass(frozen=True)
class TrainingResult:
    """What a training run did; `lorecast-training.json` is this object as JSON."""

    model_dir: str
    preset: str | None
    base: str | None
    corpus_path: str
    corpus_content_hash: str
    eval_loss_before: float
    perplexity_before: float
    eval_loss: float
    perplexity: float
    train_loss: float  # mean over this run's optimizer steps, as the Trainer reports it
    steps: int  # optimizer steps in total, including those of a resumed run
    epochs: float
    tokens_seen: int  # non-padding tokens fed to the model, all processes together
    wall_seconds: float
    stopped_by_time_budget: bool
    resumed_from: str | None
    seed: int
    parameters: int
    options: dict
    versions: dict


def write_metadata(model_dir: Path, result: TrainingResult) -> None:
    """Write the metadata file through a temporary name, so it is either whole or absent."""
    temporary = model_dir / (METADATA_FILE + ".tmp")
    temporary.write_text(json.dumps(asdict(result), indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, model_dir / METADATA_FILE)


def read_metadata(model_dir: str | Path) -> dict:
    """The training metadata of a complete model dir; a clear error for anything else."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise LorecastError(f"{model_dir}: not a model dir (no such directory)")
    missing = [name for name in REQUIRED_FILES if not (model_dir / name).is_file()]
    if missing == [METADATA_FILE]:
        raise LorecastError(
            f"{model_dir}: incomplete model dir, no {METADATA_FILE} "
            "(the training run did not finish saving)"
        )
    if missing:
        raise LorecastError(
            f"{model_dir}: not a model dir, missing {', '.join(missing)} "
            "(make one with `lorecast train generator`)"
        )
    path = model_dir / METADATA_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise LorecastError(f"{path}:{error.lineno}: invalid JSON ({error.msg})") from None


def check_output_dir(model_dir: Path, *, force: bool, resume: bool) -> None:
    """Refuse an output path that a new run must not write to; touches nothing.

    (A resumed run writes into its own dir; `trainer.generator` checks it has checkpoints.)
    """
    if resume:
        return
    check_replaceable(model_dir, force, (METADATA_FILE, "config.json", CHECKPOINTS_DIR), "a model dir",
                      hint=", or --resume to continue its checkpoints")


def prepare_output_dir(model_dir: Path, *, force: bool, resume: bool) -> None:
    """Make `model_dir` ready for a run: empty for a new run, or as it is for `resume`.

    Either way no metadata file is left behind, so the dir only looks complete once the run
    has saved everything.
    """
    check_output_dir(model_dir, force=force, resume=resume)
    if resume:
        (model_dir / METADATA_FILE).unlink(missing_ok=True)
        return
    if model_dir.is_dir():
        shutil.rmtree(model_dir)
    model_dir.mkdir(parents=True)
