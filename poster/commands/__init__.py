"""The poster's `lorecast` subcommands; each imports requests inside its function (see dataset/cli.py)."""

from poster.commands.generate import generate_command

__all__ = ["generate_command"]
