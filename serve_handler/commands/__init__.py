"""The serving side's `lorecast` subcommands (registered on the root group in dataset/cli.py).

Each module holds one command or group and imports its heavy dependencies inside the command functions, so
that `lorecast --help` stays light.
"""
