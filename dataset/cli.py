"""The `lorecast` command: the root of every subcommand.

It lives in `dataset/` because that package is torch-free and present in every install (the slim
poster image too). Subcommand modules import their heavy dependencies (torch, transformers,
matplotlib) inside the command functions, so `lorecast --help` and `lorecast post` stay light.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from dataset.commands import dataset_group
from dataset.errors import LorecastError
from poster.commands.auth import auth_group
from poster.commands.generate import generate_command
from poster.commands.k8s import k8s_group
from poster.commands.ledger import ledger_group
from poster.commands.post import feedback_command, post_command
from poster.env_file import load_env_file
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
      lorecast post twitter|tumblr|stdout               publish the best new text, keep the ledger
      lorecast feedback twitter|tumblr                  store engagement for the selector
      lorecast auth twitter|tumblr                      OAuth1 PIN flow: the access token for .env
      lorecast ledger list|export                       what was posted, with engagement
      lorecast k8s secret --from-env .env               a Kubernetes Secret of the platform keys

    Run any subcommand with --help for its options. LORECAST_… variables in ./.env are read as if they were
    set in the environment (a variable that is set wins).
    """
    load_env_file(Path(".env"))


cli.add_command(dataset_group)
cli.add_command(train_group)
cli.add_command(archive_command)
cli.add_command(serve_group)
cli.add_command(generate_command)
cli.add_command(post_command)
cli.add_command(feedback_command)
cli.add_command(auth_group)
cli.add_command(ledger_group)
cli.add_command(k8s_group)


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
