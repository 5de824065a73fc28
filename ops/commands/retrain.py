"""`lorecast retrain`: a ledger's engagement -> a new selector -> a new `.mar` version, served without a restart
(ops/retrain.py says how it decides; ops/management.py how TorchServe picks it up)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import click

from trainer.commands.engagement_options import ENGAGEMENT_OPTION_NAMES, engagement_from, engagement_options
from trainer.commands.head_options import (
    LAYERS_HELP,
    parse_layers,
    pooled_dropout_option,
    standardize_pooled_option,
)

EXIT_REFUSED = 3  # the new selector ranked the held-out posts worse: nothing was written


@click.command("retrain")
@click.option("--mar", "mar", type=click.Path(exists=True, dir_okay=False), required=True,
              help="The served .mar (in TorchServe's model store): its generator reads the features, its "
                   "selector is the one to beat.")
@click.option("--corpus", "corpus_dir", type=click.Path(exists=True, file_okay=False), required=True,
              help="The corpus dir the generator was trained on (its test.txt lines are the bootstrap "
                   "positives).")
@engagement_options(ledger_required=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Where to write the new .mar. Default: beside --mar, NAME-vN.mar for its next version N, "
                   "so TorchServe's model store holds both while the new one is rolled out.")
@click.option("--held-out", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.3,
              show_default=True,
              help="The newest this share of the labelled posts is kept out of training; both selectors "
                   "are compared on it.")
@click.option("--tolerance", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Accept a new selector whose held-out ROC-AUC is at most this much below the served "
                   "one's.")
@click.option("--layers", default=None, callback=parse_layers, metavar="INDICES",
              help=LAYERS_HELP + " Default: the served selector's (-1 without one).")
@pooled_dropout_option
@standardize_pooled_option(default=True)
@click.option("--rng-seed", type=int, default=1234, show_default=True,
              help="Seed of the negatives, the splits and the head's initial weights.")
@click.option("--min-positives", type=click.IntRange(min=20), default=50, show_default=True,
              help="Refuse to train with fewer usable test.txt lines than this.")
@click.option("--max-minutes", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Wall-clock budget for training the selector.")
@click.option("--management", "management_url", envvar="LORECAST_MANAGEMENT_URL", show_envvar=True,
              default=None, metavar="URL",
              help="TorchServe's management API (e.g. http://127.0.0.1:8081). Given: the new version is "
                   "registered from the model store, made the default, and the old version unregistered, "
                   "with no restart. The .mar must be written into that TorchServe's model store.")
@click.option("--key-file", type=click.Path(exists=True, dir_okay=False), envvar="LORECAST_KEY_FILE",
              show_envvar=True, default=None,
              help="TorchServe's key_file.json, for its management key (or set LORECAST_MANAGEMENT_KEY).")
@click.option("--keep-old", is_flag=True,
              help="With --management: leave the old version registered (no longer the default), to roll "
                   "back with one set-default call.")
@click.option("--force", is_flag=True, help="Replace --output when it exists.")
def retrain_command(mar: str, corpus_dir: str, output: str | None, held_out: float, tolerance: float,
                    layers: tuple[int, ...] | None, management_url: str | None, key_file: str | None,
                    keep_old: bool, force: bool, ledger: str, **options) -> None:
    """Train a selector on the audience's engagement and serve it when it is not worse.

    \b
      lorecast retrain --mar model_store/lorecast.mar --corpus CORPUS_DIR --ledger ledger/posts.db
      lorecast retrain --mar model_store/lorecast.mar --corpus CORPUS_DIR --ledger ledger/posts.db \\
          --management http://127.0.0.1:8081 --key-file run/key_file.json

    The ledger's posts are labelled by their engagement at --at-age; the newest --held-out share is
    kept aside. A selector is trained (bootstrap + engagement) on the rest; it and the served .mar's
    selector score the held-out posts. When the new ROC-AUC is not worse, the .mar is written again
    with the new selector as the next model version (and with --management rolled out: register,
    set default, unregister the old). Otherwise nothing is written.

    Exit codes: 0 a new version was written (and rolled out), 3 refused (the new selector was worse),
    1 error.
    """
    from lorecast.errors import LorecastError
    from ops.repack import next_version, read_mar

    key = _management_key(key_file) if management_url else None
    served = read_mar(mar)
    number = int(float(next_version(served.version)))
    target = Path(output) if output else Path(mar).with_name(f"{served.name}-v{number}.mar")
    if management_url and target.parent.resolve() != Path(mar).parent.resolve():
        raise LorecastError(f"{target}: with --management the new .mar goes into the model store beside {mar}, "
                            "where TorchServe registers it from")

    import transformers

    from ops.retrain import RetrainOptions, retrain
    from trainer.selector_training import SelectorOptions

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    labelling = {name: options.pop(name) for name in ENGAGEMENT_OPTION_NAMES}
    retraining = RetrainOptions(held_out, tolerance, layers, SelectorOptions(**options))  # the head's options
    result = retrain(mar, corpus_dir, engagement_from(ledger, **labelling), target, retraining, progress=True,
                     force=force)
    held = f"{result.held_out['positive']} liked and {result.held_out['negative']} disliked newest posts"
    click.echo(f"held-out ROC-AUC: served {served.name} {served.version} {result.old_roc_auc:.3f}, new selector "
               f"{result.new_roc_auc:.3f} ({held})")
    if not result.accepted:
        click.echo(f"refused: the new selector ranks them worse; {mar} stays served and nothing was written",
                   err=True)
        raise click.exceptions.Exit(EXIT_REFUSED)
    click.echo(f"wrote {result.output}: {served.name} version {result.version}")
    if management_url:
        _roll_out(management_url, key, Path(result.output).name, served.name, served.version, result.version,
                  keep_old)


def _management_key(key_file: str | None) -> str | None:
    from lorecast.errors import LorecastError

    if key_file is None:
        return os.environ.get("LORECAST_MANAGEMENT_KEY")
    try:
        return json.loads(Path(key_file).read_text(encoding="utf-8"))["management"]["key"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise LorecastError(f"{key_file}: not TorchServe's key_file.json ({error})") from None


def _roll_out(url: str, key: str | None, mar_file: str, name: str, old: str, new: str, keep_old: bool) -> None:
    from ops.management import ManagementApi

    api = ManagementApi(url, key)
    api.register(mar_file)
    api.set_default(name, new)
    click.echo(f"TorchServe serves {name} version {new} (registered from {mar_file}, now the default)")
    if not keep_old:
        api.unregister(name, old)
        click.echo(f"unregistered {name} version {old}")
