"""The sampling fields of an inference request (contract 5) as options, once for `lorecast generate` (sent to
TorchServe) and `lorecast train sample` (served in-process by the worker's code).

    @sampling_options                     --prompt, --max-new-tokens, --temperature, --top-k, --top-p,
                                          --typical-p, --mirostat, --mirostat-eta, --candidates, --min-novelty,
                                          --explore; each None unless given, so the request leaves it out
    def command(..., **fields): fields = request_fields(fields)   # the mirostat pair made one field

The served defaults in the help texts come from the request schema itself.
"""

from __future__ import annotations

from typing import Any

import click

from poster.commands.options import stack_options
from poster.worker_schemas import worker_schema

_FIELDS = worker_schema("request_schema.json")["properties"]
MAX_TEXTS_PER_REQUEST: int = _FIELDS["n"]["maximum"]  # what one request may ask for (`-n`)
_SERVED = {name: rule.get("default") for name, rule in _FIELDS.items()}
_SERVED["mirostat.eta"] = _FIELDS["mirostat"]["properties"]["eta"]["default"]

sampling_options = stack_options(
    click.option("--prompt", default=None, metavar="TEXT",
                 help="Continue this text (one line) instead of starting from a seed word; not with --seed."),
    click.option("--max-new-tokens", type=int, default=None,
                 help="The most tokens to generate before the text is cut at a sentence end (served default "
                      f"{_SERVED['max_new_tokens']})."),
    click.option("--temperature", type=float, default=None,
                 help="Below 1 is more conservative, above 1 more adventurous (served default "
                      f"{_SERVED['temperature']})."),
    click.option("--top-k", type=int, default=None,
                 help="Sample only among the k likeliest tokens; 0 turns it off (served default "
                      f"{_SERVED['top_k']})."),
    click.option("--top-p", type=float, default=None,
                 help="Nucleus sampling: only the likeliest tokens that add up to this probability; 1 turns it "
                      f"off (served default {_SERVED['top_p']})."),
    click.option("--typical-p", type=float, default=None,
                 help="Locally typical sampling: keep the tokens closest to the expected surprise that add up "
                      f"to this probability; 1 turns it off (served default {_SERVED['typical_p']})."),
    click.option("--mirostat", "mirostat_tau", type=float, default=None, metavar="TAU",
                 help="Mirostat v2 sampling, keeping the surprise per token near TAU bits (3.0 is typical). It "
                      "truncates on its own, so not with --top-k, --top-p or --typical-p."),
    click.option("--mirostat-eta", type=float, default=None, metavar="ETA",
                 help="Learning rate of Mirostat's surprise feedback (served default "
                      f"{_SERVED['mirostat.eta']}); needs --mirostat."),
    click.option("--candidates", type=int, default=None,
                 help="Candidates generated per text asked for; the filters drop some and the best of the rest "
                      f"are returned (served default {_SERVED['candidates']})."),
    click.option("--min-novelty", type=float, default=None,
                 help="Drop candidates whose novelty (1 - similarity to the nearest training sentence) is below "
                      f"this; 0 turns the check off (served default {_SERVED['min_novelty']})."),
    click.option("--explore", type=float, default=None,
                 help="Probability, per text, of returning a random lower-ranked candidate instead of the best "
                      f"one left; the summary counts them (served default {_SERVED['explore']}; 0 always "
                      "returns the best)."),
)


def request_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """A command's keyword arguments with --mirostat/--mirostat-eta made the request's one `mirostat` field."""
    tau, eta = fields.pop("mirostat_tau", None), fields.pop("mirostat_eta", None)
    if eta is not None and tau is None:
        raise click.UsageError("--mirostat-eta needs --mirostat TAU")
    if tau is not None:
        fields["mirostat"] = {"tau": tau} | ({} if eta is None else {"eta": eta})
    return fields
