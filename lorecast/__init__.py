"""The product root: the `lorecast` command (cli.py) and the error tree every package raises from (errors.py).

Nothing else lives here. Each package brings its own subcommands as a `commands` list in
`PACKAGE/commands/__init__.py`; cli.py registers them in one loop and imports nothing else of theirs.
"""
