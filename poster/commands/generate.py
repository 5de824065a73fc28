"""`lorecast generate`: ask a running TorchServe for texts through the inference API and print them.

stdout gets the texts, one a line (or with --json the response body as it came); stderr gets a short summary
(the seed word used and asked for, the rng_seed that repeats the run, rejected candidates, texts missing).
Only the request options the user gave are sent: the server owns the defaults (serve_handler/request_schema.json)
and the validation, and its one-line reason for a bad field becomes the error.

requests is imported inside the command, so `lorecast --help` works in an install without the poster extra.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from poster.commands.options import inference_client, inference_options
from poster.commands.sampling_options import request_fields, sampling_options
from poster.env_file import DotEnvCommand

if TYPE_CHECKING:
    from poster.inference import Generation


@click.command("generate", cls=DotEnvCommand)
@inference_options
@click.option("-n", "n", type=int, default=None,
              help="How many texts to return (served default 1). Fewer come back when too few candidates "
                   "pass the filters; the summary says how many are missing.")
@click.option("--seed", default=None, metavar="WORD",
              help="Start from this seed word. A word the model does not know is replaced by the closest "
                   "known one, and the summary says which. Default: a random familiar word.")
@sampling_options
@click.option("--rng-seed", type=int, default=None,
              help="Seed of the server's random generator: the same seed, options and model give the same "
                   "texts. Default: a random one, printed in the summary.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=60.0, show_default=True,
              help="Seconds to wait for TorchServe to accept the connection, and then for its answer "
                   "(a busy CPU server can take a while).")
@click.option("--json", "as_json", is_flag=True,
              help="Print TorchServe's response body (JSON, with scores and counts) instead of the texts, and "
                   "no summary.")
def generate_command(endpoint: str, key: str | None, key_file: str | None, timeout: float, as_json: bool,
                     **fields: Any) -> None:
    """Ask a running TorchServe for texts and print them, one a line.

    \b
    With the TorchServe that `lorecast serve start` started (token auth on; it prints this line):
      lorecast generate --key-file RUN_DIR/key_file.json -n 5 --seed kernel
    Repeat a generation with the rng_seed from its summary:
      lorecast generate --key-file RUN_DIR/key_file.json -n 5 --seed kernel --rng-seed 1234

    Sampling options left out take the server's defaults. A request is retried three times, with growing
    pauses, while TorchServe is unreachable or busy (HTTP 502, 503, 504).
    """
    fields = request_fields(fields)
    with inference_client(endpoint, key, key_file, timeout) as client:
        generation = client.generate(**fields)
    if as_json:
        click.echo(json.dumps(generation.raw, indent=2, ensure_ascii=False))
        return
    for text in generation.texts:
        click.echo(text.text)
    for line in _summary(generation):
        click.echo(line, err=True)


def _summary(generation: Generation) -> list[str]:
    """What to know about a generation besides its texts, for stderr."""
    start = []
    if generation.seed_was_mapped:
        start.append(
            f"seed {generation.seed!r} (asked for {generation.seed_requested!r}: mapped to the closest known word)"
        )
    elif generation.seed is not None:
        start.append(f"seed {generation.seed!r}")
    start.append(f"rng_seed {generation.rng_seed} (--rng-seed {generation.rng_seed} repeats it)")
    rejected = {reason: count for reason, count in generation.rejected.items() if count}
    counts = f"{generation.candidates} candidates, " + (
        f"{sum(rejected.values())} rejected ({', '.join(f'{reason} {count}' for reason, count in rejected.items())})"
        if rejected else "none rejected"
    )
    exploratory = sum(text.exploratory for text in generation.texts)
    if exploratory:
        counts += f"; {exploratory} exploratory (lower-ranked on purpose, --explore)"
    if generation.missing:
        counts += (
            f"; {generation.missing} missing: too few candidates passed the filters "
            "(try more --candidates or a lower --min-novelty)"
        )
    return [", ".join(start), counts]
