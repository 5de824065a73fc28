"""`lorecast archive`: pack a model dir, a corpus dir and blocklists into a TorchServe `.mar`, or check one.

The build logic lives in ops/archive.py and the check in ops/archive_check.py, imported inside
the command so that `lorecast --help` does not load yaml or the archiver.
"""

from __future__ import annotations

from pathlib import Path

import click
from click.core import ParameterSource

from lorecast.errors import LorecastError
from trainer.commands.handler_options import handler_settings, handler_settings_options


@click.command("archive")
@click.option("--model", "model_dir", type=click.Path(path_type=Path), metavar="MODEL_DIR",
              help="Model dir to serve (from `lorecast train generator`).")
@click.option("--corpus", "corpus_dir", type=click.Path(path_type=Path), metavar="CORPUS_DIR",
              help="Corpus dir (from `lorecast dataset build`): its words.txt becomes the seed words, its "
                   "train.txt the sentences that novelty is measured against.")
@click.option("-o", "--output", type=click.Path(path_type=Path), metavar="FILE.mar",
              help="The .mar to write, e.g. model_store/NAME.mar; NAME (the file stem) is the TorchServe model "
                   "name. Its directory is created when missing.")
@click.option("--selector", "selector_dir", type=click.Path(path_type=Path), metavar="SELECTOR_DIR",
              help="Selector dir to include (from `lorecast train selector`: selector.json and selector.safetensors); "
                   "the handler then ranks candidates by it. It must load; pickle files are refused.")
@click.option("--blocklist", "blocklists", multiple=True, type=click.Path(path_type=Path), metavar="FILE",
              help="File of blocked words and phrases, one per line, '#' starts a comment. Repeat to combine "
                   "several. Without it the archive's blocklist is empty.")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True,
              help="TorchServe batchSize: requests served together in one batch.")
@click.option("--max-batch-delay", type=click.IntRange(min=0), default=50, show_default=True,
              help="TorchServe maxBatchDelay: milliseconds to wait for a batch to fill; a lone request waits "
                   "about this long.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="TorchServe minWorkers and maxWorkers: worker processes, each with its own copy of the model.")
@click.option("--response-timeout", type=click.IntRange(min=1), default=120, show_default=True,
              help="TorchServe responseTimeout: seconds a batch may take before the worker is restarted.")
@handler_settings_options
@click.option("--force", is_flag=True, help="Replace FILE.mar when it exists.")
@click.option("--check", "check_path", type=click.Path(path_type=Path), metavar="FILE.mar",
              help="Instead of building: list the files of FILE.mar with size and sha256 and verify it (layout, "
                   "hashes, no pickles, model-config.yaml). Exit status 1 when anything is wrong.")
@click.pass_context
def archive_command(ctx: click.Context, check_path: Path | None, **options) -> None:
    """Build a TorchServe .mar, or check one with --check.

    \b
    Build:
      lorecast archive --model MODEL_DIR --corpus CORPUS_DIR -o model_store/NAME.mar
    Check:
      lorecast archive --check model_store/NAME.mar

    The archive holds the handler, the worker package serve_handler/ and the text rules it shares with the
    corpus build (textrules/), the generator, the seed words, the training
    sentences (for novelty), the blocklist, model-config.yaml and lorecast-archive.json (sha256 of every file and
    what went in). Serve it with: lorecast serve start --models NAME.mar
    """
    given = [_option_name(ctx, name) for name in options
             if ctx.get_parameter_source(name) is not ParameterSource.DEFAULT]
    if check_path is not None:
        if given:
            raise click.UsageError(f"--check takes no build options; drop {', '.join(given)}")
        _check(check_path)
    else:
        _build(**options)


def _option_name(ctx: click.Context, name: str) -> str:
    option = next(param for param in ctx.command.params if param.name == name)
    return max(option.opts, key=len)


def _build(model_dir: Path | None, corpus_dir: Path | None, output: Path | None,
           selector_dir: Path | None, blocklists: tuple[Path, ...], batch_size: int, max_batch_delay: int,
           workers: int, response_timeout: int, force: bool, **options) -> None:
    from ops.archive import ServingOptions, build_archive, format_size
    from ops.archive_check import read_archive_manifest

    missing = [flag for flag, value in (("--model", model_dir), ("--corpus", corpus_dir), ("-o", output))
               if value is None]
    if missing:
        raise click.UsageError(f"missing {', '.join(missing)} (or give --check FILE.mar to check an archive)")
    handler = handler_settings(options)
    options = ServingOptions(workers=workers, batch_size=batch_size, max_batch_delay=max_batch_delay,
                             response_timeout=response_timeout, handler=handler)
    path = build_archive(model_dir, corpus_dir, output, selector_dir=selector_dir, blocklists=blocklists,
                         options=options, force=force, progress=lambda line: click.echo(f"  {line}", err=True))
    manifest = read_archive_manifest(path)
    # The listed files, plus lorecast-archive.json itself and the archiver's MAR-INF/MANIFEST.json.
    click.echo(f"wrote {path} ({format_size(path.stat().st_size)}, {len(manifest['files']) + 2} files, "
               f"model name {manifest['model_name']!r})")
    click.echo(f"  seed words         {manifest['corpus']['seed_words']:>10,}")
    click.echo(f"  novelty sentences  {manifest['corpus']['novelty_sentences']:>10,}")
    click.echo(f"  blocklist terms    {manifest['blocklist']['terms']:>10,}")
    click.echo(f"  selector           {'included' if manifest['selector'] else 'none':>10}")


def _check(path: Path) -> None:
    from ops.archive_check import check_archive

    report = check_archive(path)
    for entry in sorted(report.entries, key=lambda entry: entry.path):
        click.echo(f"{entry.bytes:>14,}  {entry.sha256 or '(unreadable)':<64}  {entry.path}")
    for problem in report.problems:
        click.echo(f"problem: {problem}", err=True)
    if report.problems:
        raise LorecastError(f"{path}: {len(report.problems)} problem(s), see above")
    click.echo(f"{path}: OK ({len(report.entries)} files, every hash matches)")
