"""Train the GPT-2 generator on a corpus dir and write a model dir (see `trainer.model_dir`).

Two starting points, one training loop (the Hugging Face Trainer):
- from scratch with a preset: a byte-level BPE tokenizer is learnt on train.txt, then a fresh
  GPT-2 of the preset's shape;
- a finetune with `base`: any GPT-2 checkpoint, a local dir or a Hub name, loaded with
  `from_pretrained`.

Evaluation on test.txt runs before and after training; eval loss is the mean token
cross-entropy and perplexity is exp(loss).
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import tokenizers
import torch
import transformers
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoTokenizer,
    GPT2Config,
    GPT2LMHeadModel,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    Trainer,
    TrainingArguments,
)
from transformers.trainer_utils import get_last_checkpoint

from dataset.corpus import TEST_FILE, TRAIN_FILE, Corpus, load_corpus
from lorecast.errors import LorecastError
from trainer.blocks import PackedBlocks
from trainer.model_dir import (
    CHECKPOINTS_DIR,
    TrainingResult,
    check_output_dir,
    prepare_output_dir,
    write_metadata,
)
from trainer.presets import Preset, resolve_preset
from trainer.time_budget import TimeBudget
from trainer.tokenizer import train_bpe_tokenizer

log = logging.getLogger(__name__)

DEFAULT_PRESET = "tiny"
FINETUNE_LEARNING_RATE = 5e-5  # a gentle rate, so a pretrained model keeps what it knows


@dataclass(frozen=True)
class GeneratorOptions:
    """How to train; the defaults train the tiny preset from scratch."""

    preset: str | Preset | None = None  # from scratch; the default when `base` is not given
    base: str | None = None  # finetune this checkpoint (local dir or Hub name)
    epochs: float = 5.0
    max_steps: int | None = None  # overrides epochs
    batch_size: int = 8
    grad_accum: int = 1
    learning_rate: float | None = None  # None: the preset's, or FINETUNE_LEARNING_RATE
    warmup: float = 0.05  # steps when >= 1, else a fraction of all steps
    seed: int = 1234
    max_minutes: float | None = None
    eval_every: int | None = None  # also evaluate every N steps during training
    save_every: int = 500  # checkpoint every N steps (for --resume)
    keep_checkpoints: bool = False
    resume: bool = False
    force: bool = False
    fp16: bool = False
    bf16: bool = False


def train_generator(
    corpus_dir: str | Path, out_dir: str | Path, options: GeneratorOptions = GeneratorOptions()
) -> TrainingResult:
    """Train (or finetune) a generator on `corpus_dir` and save it as a model dir in `out_dir`."""
    started = time.monotonic()
    _check_options(options)
    corpus = _load_training_corpus(corpus_dir)
    out_dir = Path(out_dir)
    _refuse_to_overwrite_corpus(out_dir, corpus.path)
    checkpoints = out_dir / CHECKPOINTS_DIR
    check_output_dir(out_dir, force=options.force, resume=options.resume)
    resume_from = _last_checkpoint(checkpoints) if options.resume else None

    args = _training_arguments(checkpoints, options)
    transformers.set_seed(options.seed)
    # Before the output dir is touched: a --base that fails to load leaves it as it was.
    model, tokenizer = _starting_point(corpus, options, resume_from)
    # Under torchrun every process runs this; only the first touches the output dir.
    with args.main_process_first(local=False):
        if args.process_index == 0:
            prepare_output_dir(out_dir, force=options.force, resume=options.resume)
    block_size = model.config.n_positions
    train_blocks = PackedBlocks(corpus.train, tokenizer, block_size)
    test_blocks = PackedBlocks(corpus.test, tokenizer, block_size)
    log.info(
        "%s parameters; train.txt %s tokens in %s blocks of %s, test.txt %s tokens",
        f"{model.num_parameters():,}", f"{train_blocks.num_tokens:,}", f"{len(train_blocks):,}",
        block_size, f"{test_blocks.num_tokens:,}",
    )

    budget = TimeBudget(deadline=math.inf, checkpoint_on_stop=options.keep_checkpoints)
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_blocks,
        eval_dataset=test_blocks,
        processing_class=tokenizer,
        callbacks=[budget],
    )
    eval_started = time.monotonic()
    loss_before = trainer.evaluate()["eval_loss"]
    if options.max_minutes is not None:
        # The final evaluation takes as long as this first one: keep that much time for it.
        budget.deadline = started + options.max_minutes * 60 - (time.monotonic() - eval_started)
    output = trainer.train(resume_from_checkpoint=resume_from)
    loss_after = trainer.evaluate()["eval_loss"]

    if trainer.is_world_process_zero():
        # save_pretrained rather than Trainer.save_model, which adds a pickle (training_args.bin).
        trainer.model.save_pretrained(out_dir)  # safetensors weights, config, generation config
        tokenizer.save_pretrained(out_dir)
        if not options.keep_checkpoints:
            shutil.rmtree(checkpoints, ignore_errors=True)
    preset = _preset(options)
    result = TrainingResult(
        model_dir=str(out_dir),
        preset=preset.name if preset else None,
        base=options.base,
        corpus_path=str(corpus.path),
        corpus_content_hash=corpus.content_hash,
        eval_loss_before=loss_before,
        perplexity_before=_perplexity(loss_before),
        eval_loss=loss_after,
        perplexity=_perplexity(loss_after),
        train_loss=output.training_loss,
        steps=trainer.state.global_step,
        epochs=trainer.state.epoch or 0.0,
        tokens_seen=int(trainer.state.num_input_tokens_seen),
        wall_seconds=round(time.monotonic() - started, 2),
        stopped_by_time_budget=budget.stopped,
        resumed_from=resume_from,
        seed=options.seed,
        parameters=model.num_parameters(),
        options=asdict(options),
        versions={
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__,
        },
    )
    if trainer.is_world_process_zero():
        write_metadata(out_dir, result)  # last: its presence marks the model dir complete
    return result


def _preset(options: GeneratorOptions) -> Preset | None:
    """The preset a from-scratch run uses; None for a finetune."""
    return None if options.base else resolve_preset(options.preset or DEFAULT_PRESET)


def _check_options(options: GeneratorOptions) -> None:
    if options.base and options.preset:
        raise LorecastError("give --base (finetune) or --preset (from scratch), not both")
    if options.fp16 and not torch.cuda.is_available():
        raise LorecastError("--fp16 needs a CUDA GPU (none is visible to torch)")
    if options.bf16 and not (torch.cuda.is_available() and torch.cuda.is_bf16_supported()):
        raise LorecastError("--bf16 needs a CUDA GPU with bfloat16 support (Ampere or newer)")
    if options.fp16 and options.bf16:
        raise LorecastError("give --fp16 or --bf16, not both")
    _preset(options)  # an unknown preset name fails here, before any work


def _load_training_corpus(corpus_dir: str | Path) -> Corpus:
    corpus = load_corpus(corpus_dir)
    if not corpus.train:
        raise LorecastError(f"{corpus.path / TRAIN_FILE}: no training examples")
    if not corpus.test:
        raise LorecastError(f"{corpus.path / TEST_FILE}: no test examples (evaluation needs some)")
    return corpus


def _refuse_to_overwrite_corpus(out_dir: Path, corpus_dir: Path) -> None:
    out, corpus = out_dir.resolve(), corpus_dir.resolve()
    if out == corpus or out in corpus.parents:
        raise LorecastError(f"{out_dir}: the output dir would hold the corpus dir {corpus_dir}")


def _training_arguments(checkpoints: Path, options: GeneratorOptions) -> TrainingArguments:
    preset = _preset(options)
    learning_rate = options.learning_rate or (
        preset.learning_rate if preset else FINETUNE_LEARNING_RATE
    )
    evaluate_during = options.eval_every is not None
    return TrainingArguments(
        output_dir=str(checkpoints),
        num_train_epochs=options.epochs,
        max_steps=options.max_steps or -1,
        per_device_train_batch_size=options.batch_size,
        per_device_eval_batch_size=options.batch_size,
        gradient_accumulation_steps=options.grad_accum,
        learning_rate=learning_rate,
        warmup_steps=options.warmup,
        seed=options.seed,
        fp16=options.fp16,
        bf16=options.bf16,
        eval_strategy="steps" if evaluate_during else "no",
        eval_steps=options.eval_every,
        save_strategy="steps",
        save_steps=options.save_every,
        save_total_limit=2,
        logging_steps=50,
        include_num_input_tokens_seen="non_padding",
        report_to="none",
        dataloader_pin_memory=torch.cuda.is_available(),
    )


def _last_checkpoint(checkpoints: Path) -> str:
    if not checkpoints.is_dir():
        raise LorecastError(f"{checkpoints.parent}: nothing to resume, no {CHECKPOINTS_DIR}/ in it")
    last = get_last_checkpoint(str(checkpoints))
    if last is None:
        raise LorecastError(f"{checkpoints}: nothing to resume, no checkpoint-* dir in it")
    return last


def _starting_point(
    corpus: Corpus, options: GeneratorOptions, resume_from: str | None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The model and tokenizer to train: from a checkpoint, a base model, or a fresh preset."""
    if resume_from is not None:
        # The checkpoint holds the tokenizer this run started with; a new one would renumber tokens.
        return (
            AutoModelForCausalLM.from_pretrained(resume_from),
            AutoTokenizer.from_pretrained(resume_from),
        )
    preset = _preset(options)
    if preset is None:
        return _load_base(options.base)
    tokenizer = train_bpe_tokenizer(corpus.train, preset.vocab_size)
    end = tokenizer.eos_token_id
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=preset.context,
        n_embd=preset.n_embd,
        n_layer=preset.n_layer,
        n_head=preset.n_head,
        embd_pdrop=preset.dropout,
        attn_pdrop=preset.dropout,
        resid_pdrop=preset.dropout,
        bos_token_id=end,
        eos_token_id=end,
        pad_token_id=end,
    )
    model = GPT2LMHeadModel(config)
    model.generation_config.pad_token_id = end
    return model, tokenizer


def _load_base(name: str) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A GPT-2 checkpoint from a local dir or the Hub, and its (fast) tokenizer."""
    looks_local = name.startswith((".", "/", "~")) or Path(name).exists()
    if looks_local and not Path(name).expanduser().is_dir():
        raise LorecastError(f"--base {name}: no such directory")
    try:
        config = AutoConfig.from_pretrained(name)
        if config.model_type != "gpt2":
            raise LorecastError(f"--base {name}: a {config.model_type} model, not GPT-2")
        tokenizer = AutoTokenizer.from_pretrained(name)
        model = AutoModelForCausalLM.from_pretrained(name)
    except (OSError, ValueError) as error:  # not found locally or on the Hub, or unreadable
        reason = (str(error).strip() or type(error).__name__).splitlines()[0]
        raise LorecastError(f"--base {name}: cannot load it ({reason})") from None
    if not tokenizer.is_fast or tokenizer.eos_token_id is None:
        raise LorecastError(f"--base {name}: needs a fast tokenizer with an end-of-text token")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def _perplexity(loss: float) -> float:
    return math.exp(loss) if loss < 700 else math.inf  # exp overflows a float past ~709
