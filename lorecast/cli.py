"""The `lorecast` command: the root group, and the console-script entry that turns errors into one line.

Every package hands in its subcommands as a `commands` list (`PACKAGE/commands/__init__.py`), registered below
in one loop. Those modules import their heavy dependencies (torch, transformers, matplotlib, requests) inside
the command functions, so `lorecast --help` and `lorecast post` stay light.
"""

from __future__ import annotations

import sys

import click

from dataset.commands import commands as dataset_commands
from lorecast.errors import LorecastError
from ops.commands import commands as ops_commands
from poster.commands import commands as poster_commands
from trainer.commands import commands as trainer_commands


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="lorecast")
def cli() -> None:
    """lorecast: turn a text corpus into a GPT-2 bot.

    \b
    The data flow, one subcommand per step, grouped by the package that owns it:
    dataset/ (sources and text, no torch)
      lorecast dataset build SOURCES... -o CORPUS_DIR   sources -> cleaned corpus dir
      lorecast dataset inspect CORPUS_DIR -o REPORT     HTML report with charts
    trainer/ (models)
      lorecast train generator --corpus CORPUS_DIR -o MODEL_DIR
      lorecast train selector --model MODEL_DIR --corpus CORPUS_DIR -o SELECTOR_DIR
      lorecast train sample --model MODEL_DIR -n 20     what the handler would serve, without TorchServe
    ops/ (build and operations, outside TorchServe)
      lorecast archive --model MODEL_DIR --corpus CORPUS_DIR -o model_store/NAME.mar
      lorecast serve start|status|stop                  a local TorchServe with token auth
      lorecast retrain --mar M.mar --corpus C --ledger L
                                                        engagement -> a new selector, served if not worse
    poster/ (the CronJob posters, no torch)
      lorecast generate -n 5                            ask TorchServe for texts
      lorecast post PLATFORM                            publish the best new text, keep the ledger
                                                        (twitter, tumblr, mastodon, bluesky, stdout)
      lorecast reply PLATFORM                           answer new mentions in their threads
      lorecast feedback PLATFORM                        store engagement for the selector
      lorecast auth PLATFORM                            sign in as the bot: the .env lines
      lorecast ledger list|mentions|export|costs|settle what was posted and answered, engagement, X's bill
      lorecast ledger report -o DIR                     the bot's record as an HTML page with charts
      lorecast k8s secret --from-env .env               a Kubernetes Secret of the platform keys

    Inside TorchServe runs serve_handler/, the worker, which the .mar carries with textrules/ (the text
    rules the corpus build shares with it). Run any subcommand with --help for its options. The poster
    commands read LORECAST_… variables in ./.env as if they were set in the environment (a variable that is
    set wins).
    """


for command in (*dataset_commands, *trainer_commands, *ops_commands, *poster_commands):
    cli.add_command(command)


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
