"""`lorecast dataset ...`: build and inspect corpus dirs. `commands` is what the root registers."""

import click

from dataset.commands.build import build
from dataset.commands.inspect import inspect


@click.group("dataset")
def dataset_group() -> None:
    """Build a corpus dir from sources, or inspect one."""


dataset_group.add_command(build)
dataset_group.add_command(inspect)

commands = [dataset_group]
