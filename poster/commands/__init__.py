"""The poster's `lorecast` subcommands. `commands` is what the root registers.

Each reads ./.env before its options (env_file.DotEnvCommand) and imports requests inside its function.
"""

from poster.commands.auth import auth_group
from poster.commands.generate import generate_command
from poster.commands.k8s import k8s_group
from poster.commands.ledger import ledger_group
from poster.commands.post import feedback_command, post_command
from poster.commands.reply import reply_command

commands = [generate_command, post_command, reply_command, feedback_command, auth_group, ledger_group, k8s_group]
