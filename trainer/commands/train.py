"""`lorecast train ...`: train the generator and the selector, and look at the generator's samples.

torch and transformers are imported inside the commands (via trainer.generator,
trainer.selector_training and trainer.sampling), so `lorecast --help` and the torch-free
commands never load them.
"""

from __future__ import annotations

import json
import logging

import click
from click.core import ParameterSource

from poster.commands.sampling_options import MAX_TEXTS_PER_REQUEST, request_fields, sampling_options
from trainer.commands.engagement_options import ENGAGEMENT_OPTION_NAMES, engagement_from, engagement_options
from trainer.commands.handler_options import handler_settings, handler_settings_options
from trainer.commands.head_options import (
    LAYERS_HELP,
    parse_layers,
    pooled_dropout_option,
    standardize_pooled_option,
)
from trainer.model_dir import read_metadata
from trainer.presets import PRESETS


@click.group("train")
def train_group() -> None:
    """Train models from a corpus dir."""


@train_group.command("generator")
@click.option("--corpus", "corpus_dir", required=True, metavar="DIR",
              help="Corpus dir to train on (from `lorecast dataset build`).")
@click.option("-o", "--output", "out_dir", required=True, metavar="MODEL_DIR",
              help="Model dir to write: Hugging Face save_pretrained files and "
                   "lorecast-training.json.")
@click.option("--preset", type=click.Choice(list(PRESETS)), default=None,
              help="Train from scratch with this model size and a BPE tokenizer learnt on "
                   "train.txt. The default when --base is not given: tiny.")
@click.option("--base", metavar="PATH_OR_HUB_NAME", default=None,
              help="Finetune this GPT-2 checkpoint instead: a local save_pretrained dir or a "
                   "Hugging Face Hub name such as gpt2.")
@click.option("--epochs", type=click.FloatRange(min=0, min_open=True), default=5.0,
              show_default=True, help="Passes over train.txt.")
@click.option("--max-steps", type=click.IntRange(min=1), default=None,
              help="Stop after this many optimizer steps; overrides --epochs.")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True,
              help="Blocks per device per forward pass (a block is the model's context length).")
@click.option("--grad-accum", type=click.IntRange(min=1), default=1, show_default=True,
              help="Forward passes per optimizer step: the effective batch is batch size x this.")
@click.option("--lr", "learning_rate", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Peak learning rate. Default: the preset's (tiny 3e-3, small 1e-3, "
                   "medium 6e-4), or 5e-5 with --base.")
@click.option("--warmup", type=click.FloatRange(min=0), default=0.05, show_default=True,
              help="Linear warmup: a number of steps when >= 1, else a fraction of all steps.")
@click.option("--seed", type=int, default=1234, show_default=True,
              help="Random seed for initialisation and data order.")
@click.option("--max-minutes", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Wall-clock budget for the whole run: training stops early, keeping time for "
                   "the final evaluation, and the stop is recorded in lorecast-training.json.")
@click.option("--eval-every", type=click.IntRange(min=1), default=None,
              help="Also evaluate on test.txt every N steps (default: only before and after).")
@click.option("--save-every", type=click.IntRange(min=1), default=500, show_default=True,
              help="Write a checkpoint under MODEL_DIR/checkpoints every N steps, for --resume.")
@click.option("--keep-checkpoints", is_flag=True,
              help="Keep MODEL_DIR/checkpoints after a finished run (they hold pickles: optimizer "
                   "and RNG state). By default they are deleted once the model is saved.")
@click.option("--resume", is_flag=True,
              help="Continue from the last checkpoint in MODEL_DIR/checkpoints (after an "
                   "interrupted run or one with --keep-checkpoints); give the same options.")
@click.option("--force", is_flag=True,
              help="Replace MODEL_DIR when it holds an earlier model dir; a non-empty dir of "
                   "anything else is never deleted.")
@click.option("--fp16", is_flag=True, help="Mixed precision float16 (needs a CUDA GPU).")
@click.option("--bf16", is_flag=True,
              help="Mixed precision bfloat16 (needs a CUDA GPU of the Ampere generation or newer).")
def generator(corpus_dir: str, out_dir: str, **options) -> None:
    """Train or finetune the GPT-2 generator.

    \b
    From scratch (default, tiny preset):
      lorecast train generator --corpus CORPUS_DIR -o MODEL_DIR --max-minutes 3
    Finetune a pretrained GPT-2:
      lorecast train generator --corpus CORPUS_DIR -o MODEL_DIR --base gpt2

    Eval loss and perplexity on test.txt are printed at the end and saved in the model dir.
    Multi-GPU: run the `lorecast` script under torchrun.
    """
    from trainer.generator import GeneratorOptions, train_generator

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    result = train_generator(corpus_dir, out_dir, GeneratorOptions(**options))
    stopped = " (stopped by --max-minutes)" if result.stopped_by_time_budget else ""
    click.echo(
        f"eval loss {result.eval_loss:.4f} (before {result.eval_loss_before:.4f}), "
        f"perplexity {result.perplexity:.2f} (before {result.perplexity_before:.2f})"
    )
    click.echo(
        f"{result.steps} steps, {result.epochs:.2f} epochs, {result.tokens_seen:,} tokens, "
        f"{result.wall_seconds:.0f} s{stopped}; model dir: {result.model_dir}"
    )


@train_group.command("selector")
@click.option("--model", "model_dir", required=True, metavar="MODEL_DIR",
              help="Model dir of the generator the selector will rank for (from `lorecast train "
                   "generator`); it stays frozen and supplies the features.")
@click.option("--corpus", "corpus_dir", required=True, metavar="DIR",
              help="The corpus dir the generator was trained on: its test.txt lines are the "
                   "positives, its words.txt words start the generated negatives.")
@click.option("-o", "--output", "out_dir", required=True, metavar="SELECTOR_DIR",
              help="Selector dir to write: selector.json and selector.safetensors.")
@click.option("--layers", default="-1", show_default=True, callback=parse_layers, metavar="INDICES", help=LAYERS_HELP)
@click.option("--hidden-size", type=click.IntRange(min=1), default=64, show_default=True,
              help="Width of the selector head's hidden layer.")
@pooled_dropout_option
@standardize_pooled_option(default=False)
@click.option("--token-stats/--no-token-stats", default=True, show_default=True,
              help="Also read how the generator predicts each of the text's tokens (log-probabilities, "
                   "ranks, entropy; from the same forward pass). --no-token-stats: the hidden states alone, "
                   "as selectors before them did.")
@click.option("--negatives", type=click.IntRange(min=1), default=None,
              help="Generated texts to train against (default: as many as there are positives). "
                   "Fewer are used when 4 generated texts per negative wanted do not yield them "
                   "(a text is dropped when it ran out of tokens with no sentence end to cut at, "
                   "is too short or too long, repeats another, or copies a corpus line).")
@click.option("--min-positives", type=click.IntRange(min=20), default=50, show_default=True,
              help="Refuse to train with fewer usable test.txt lines than this: on fewer, the "
                   "held-out ROC-AUC says little.")
@click.option("--rng-seed", type=int, default=1234, show_default=True,
              help="Seed for the negatives' seed words and sampling, the splits and the head's "
                   "initial weights: the same command gives the same selector on the same machine.")
@click.option("--max-minutes", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Wall-clock budget for the whole run: generating negatives stops at half of it, "
                   "training at the end of it (keeping the best weights so far).")
@click.option("--force", is_flag=True,
              help="Replace SELECTOR_DIR when it holds an earlier selector dir; a non-empty dir of "
                   "anything else is never deleted.")
@engagement_options(ledger_required=False)
@click.pass_context
def selector(ctx: click.Context, model_dir: str, corpus_dir: str, out_dir: str, layers: tuple[int, ...],
             ledger: str | None, **options) -> None:
    """Train the selector that ranks the generator's candidates.

    \b
      lorecast train selector --model MODEL_DIR --corpus CORPUS_DIR -o SELECTOR_DIR
      lorecast train selector --model MODEL_DIR --corpus CORPUS_DIR -o SELECTOR_DIR \\
          --ledger ledger/posts.db

    Bootstrap: held-out test.txt lines are the positives and the generator's own samples the
    negatives. With --ledger, the posted texts labelled by their engagement (at --at-age) are
    added. A small head on the generator's hidden states and its token log-probabilities and
    ranks learns to tell positives from negatives, and its score is calibrated to a probability.
    ROC-AUC on held-out splits (and with --ledger on the held-out engagement examples alone) is
    printed at the end and saved with the selector.
    """
    if ledger is None:
        for name in ENGAGEMENT_OPTION_NAMES:
            if ctx.get_parameter_source(name) is not ParameterSource.DEFAULT:
                raise click.UsageError(f"--{name.replace('_', '-')} needs --ledger")
    read_metadata(model_dir)  # fail on a bad model dir before the slow torch import

    import transformers

    from serve_handler.selector import TOKEN_STATS
    from trainer.selector_training import MIN_HELD_OUT_FOR_AUC, SelectorOptions, train_selector

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    labelling = {name: options.pop(name) for name in ENGAGEMENT_OPTION_NAMES}
    engagement = None if ledger is None else engagement_from(ledger, **labelling)
    token_stats = TOKEN_STATS if options.pop("token_stats") else ()
    result = train_selector(model_dir, corpus_dir, out_dir,
                            SelectorOptions(layers=layers, token_stats=token_stats, **options),
                            engagement=engagement, progress=True)
    stopped = " (stopped by --max-minutes)" if result.stopped_by_time_budget else ""
    click.echo(
        f"val ROC-AUC {result.val_roc_auc:.3f}, calibrated ROC-AUC {result.calibration_roc_auc:.3f} "
        "(held-out splits)"
    )
    posted = result.engagement
    if posted is not None:
        held_out = f"{posted.held_out_positives} positives, {posted.held_out_negatives} negatives held out"
        if posted.roc_auc is None:
            click.echo(f"engagement ROC-AUC: too few engagement examples held out ({held_out}; "
                       f"{MIN_HELD_OUT_FOR_AUC} of each needed)")
        else:
            click.echo(f"engagement ROC-AUC {posted.roc_auc:.3f} ({held_out})")
        click.echo(
            f"engagement: {posted.posts} posts with metrics in {posted.options.ledger}, labelled "
            f"{posted.labelled_positives} positives and {posted.labelled_negatives} negatives, "
            f"{posted.positives} and {posted.negatives} used"
        )
    bootstrap = "bootstrap: " if posted is not None else ""
    click.echo(
        f"{bootstrap}{result.positives} positives, {result.negatives} negatives, {result.steps} steps, "
        f"{result.wall_seconds:.0f} s{stopped}; selector dir: {result.selector_dir}"
    )




@train_group.command("sample")
@click.option("--model", "model_dir", required=True, metavar="MODEL_DIR",
              help="Model dir written by `lorecast train generator`.")
@click.option("--corpus", "corpus_dir", default=None, metavar="DIR",
              help="Corpus dir whose words.txt gives the seed words and whose train.txt the sentences novelty is "
                   "measured against, as `lorecast archive --corpus` packs them. Default: the corpus the model "
                   "was trained on (from its lorecast-training.json), when it is still there.")
@click.option("-n", "count", type=click.IntRange(min=1), default=20, show_default=True,
              help="Number of texts to ask for, printed one per line. Fewer are printed when too few "
                   "candidates pass the filters; the summary on stderr says how many are missing.")
@click.option("--per-request", type=click.IntRange(1, MAX_TEXTS_PER_REQUEST), default=MAX_TEXTS_PER_REQUEST,
              show_default=True,
              help="Texts per request: COUNT is asked for in requests of this many, request i with rng_seed "
                   "+ i. Each request starts from one seed word; 1 gives every text its own.")
@click.option("--seed-word", "--seed", "seed", default=None, metavar="WORD",
              help="Start from this seed word; one the model does not know is replaced by the closest known "
                   "one. Default: a random familiar word per request.")
@sampling_options
@click.option("--rng-seed", type=click.IntRange(min=0), default=None,
              help="Seed of the handler's random generator: the same seed, options and model give the same "
                   "texts, here and served. Default: a random one, printed in the summary.")
@click.option("--selector", "selector_dir", default=None, metavar="SELECTOR_DIR",
              help="Rank the candidates with this selector dir (from `lorecast train selector`), as an archive "
                   "built with --selector does. Default: by the generator's mean log-probability.")
@click.option("--blocklist", "blocklists", multiple=True, metavar="FILE",
              help="File of blocked words and phrases, as for `lorecast archive --blocklist`; repeat to combine.")
@handler_settings_options
@click.option("--raw", is_flag=True,
              help="No filters: texts are not cut at a sentence end and nothing is rejected (same engine, "
                   "defaults and ranking otherwise; add --candidates 1 to see every draw).")
@click.option("--json", "as_json", is_flag=True,
              help="Print each request's response (contract 5, with scores, novelty and rejections) as one JSON "
                   "line instead of the texts.")
def sample(model_dir: str, corpus_dir: str | None, count: int, per_request: int, rng_seed: int | None,
           selector_dir: str | None, blocklists: tuple[str, ...], raw: bool, as_json: bool, **fields) -> None:
    """Print texts from a trained generator exactly as the handler would serve them, one per line.

    \b
      lorecast train sample --model MODEL_DIR --corpus CORPUS_DIR -n 20 --rng-seed 0
      lorecast train sample --model MODEL_DIR --seed-word kernel -n 5 --min-novelty 0

    The texts come from the TorchServe worker's own code (serve_handler), built from the parts `lorecast
    archive` packs: the model dir, the corpus dir's words.txt and train.txt, the --blocklist files, the
    --selector and the handler settings, on the device a worker would use (a GPU in fp16, else the CPU in
    fp32). The sampling options make the inference request; one left out takes the served default. So
    `lorecast generate` against an archive of the same parts, with the same options and --rng-seed, returns
    the same texts (for COUNT up to --per-request: one request). Summary on stderr: rejected candidates by
    reason, missing texts, seed words, the rng_seed that repeats the run.
    """
    settings = handler_settings(fields)  # before the rest of fields becomes the request
    fields = request_fields(fields)

    from trainer.sampling import Summary, check_bodies, load_service, request_bodies, sampling_corpus, serve_alone

    bodies = request_bodies(count, per_request, rng_seed, fields)
    check_bodies(bodies)  # a bad option fails here, before the slow model load
    corpus = sampling_corpus(model_dir, corpus_dir, warn=lambda line: click.echo(line, err=True))

    import transformers

    # stdout is the texts; keep library chatter (loading bars, generation hints) off stderr too.
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    service, device, dtype = load_service(model_dir, corpus, blocklists=blocklists, selector_dir=selector_dir,
                                          settings=settings, filtered=not raw)
    click.echo(f"serving {model_dir} on {device} ({str(dtype).removeprefix('torch.')}), seed words and novelty "
               f"from {corpus.path}, ranked by {service.ranker.name}{', no filters (--raw)' if raw else ''}",
               err=True)
    responses = serve_alone(service, bodies, progress=lambda line: click.echo(line, err=True))
    for response in responses:
        if as_json:
            click.echo(json.dumps(response, ensure_ascii=False))
        else:
            for text in response["texts"]:
                click.echo(text["text"])
    for line in Summary.of(responses).lines():
        click.echo(line, err=True)
