"""--layers and --pooled-dropout: what a selector reads and how it is regularized, for `lorecast train selector` and
`lorecast retrain`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

LAYERS_HELP = ("Generator hidden states the selector reads, comma-separated: 0 is the embeddings, 1..N the layers, "
               "-1 the last layer, -2 the one before (e.g. -1,-2).")


POOLED_DROPOUT_HELP = ("In training, drop each pooled hidden-state feature with this probability. It helps when "
                       "they are hundreds of dimensions against a few hundred examples (the demo); with few "
                       "dimensions, 0 lets the head use them all.")


def pooled_dropout_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--pooled-dropout", type=click.FloatRange(0, 1, max_open=True), default=0.5,
                        show_default=True, help=POOLED_DROPOUT_HELP)(command)


def parse_layers(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, ...] | None:
    if value is None:
        return None
    try:
        return tuple(int(part) for part in value.split(","))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of integers such as -1,-2") from None
