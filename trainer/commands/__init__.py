"""`lorecast train ...` (train.py). `commands` is what the root registers."""

from trainer.commands.train import train_group

commands = [train_group]
