"""The `lorecast` command: the root of every subcommand.

It lives in `dataset/` because that package is torch-free and present in every install (the slim
poster image too). Subcommand modules import their heavy dependencies (torch, transformers,
matplotlib) inside the command functions, so `lorecast --help` and `lorecast post` stay light.
"""

from __future__ import annotations

import sys

import click

from dataset.commands import dataset_group
from dataset.errors import LorecastError
from poster.commands.generate import generate_command
from serve_handler.commands.archive import archive_command
from serve_handler.commands.serve import serve_group
from trainer.commands import train_group


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="lorecast")
def cli() -> None:
    """lorecast: turn a text corpus into a GPT-2 bot.

    \b
    The data flow, one subcommand per step:
      lorecast dataset build SOURCES... -o CORPUS_DIR   sources -> cleaned corpus dir
      lorecast dataset inspect CORPUS_DIR -o REPORT     HTML report with charts
      lorecast train generator --corpus CORPUS_DIR -o MODEL_DIR
      lorecast train sample --model MODEL_DIR -n 20     a quick local look at the model
      lorecast archive --model MODEL_DIR --corpus CORPUS_DIR -o model_store/NAME.mar
      lorecast serve start                              a local TorchServe with token auth
      lorecast generate -n 5                            ask TorchServe for texts

    Run any subcommand with --help for its options.
    """


cli.add_command(dataset_group)
cli.add_command(train_group)
cli.add_command(archive_command)
cli.add_command(serve_group)
cli.add_command(generate_command)


def main() -> None:
    """Console-script entry: user errors become one line on stderr and exit status 1."""
    try:
        # Without standalone mode click returns the code of `ctx.exit(code)` instead of exiting with it.
        code = cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except LorecastError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(1)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
