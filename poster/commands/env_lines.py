"""How every `lorecast auth PLATFORM` hands over what it got: the LORECAST_<PLATFORM>_… lines for `.env` on stdout
(so `>> .env` collects them), the instructions and the Kubernetes hint on stderr."""

from __future__ import annotations

from collections.abc import Iterable

import click


def print_env_lines(platform: str, values: Iterable[tuple[str, str]]) -> None:
    """`values`: (name after the prefix, value) pairs, e.g. ("ACCESS_TOKEN", token)."""
    prefix = f"LORECAST_{platform.upper()}"
    click.echo(f"Put these lines in .env (or append them: `lorecast auth {platform} >> .env`):", err=True)
    for name, value in values:
        click.echo(f"{prefix}_{name}={value}")
    click.echo(
        f"For Kubernetes, save them to {platform}.env, run\n"
        f"  lorecast k8s secret --from-env {platform}.env --platform {platform} | kubectl apply -f -\n"
        "and delete the file.",
        err=True,
    )
