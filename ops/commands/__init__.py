"""The build and operations subcommands: `lorecast archive`, `lorecast serve` and `lorecast retrain`.
`commands` is what the root registers.

Each module holds one command or group and imports its heavy dependencies inside the command functions, so
that `lorecast --help` stays light.
"""

from ops.commands.archive import archive_command
from ops.commands.retrain import retrain_command
from ops.commands.serve import serve_group

commands = [archive_command, serve_group, retrain_command]
