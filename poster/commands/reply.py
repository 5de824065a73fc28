"""`lorecast reply PLATFORM`: answer the people who mention the bot (the reply CronJob; exit codes: exits.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from lorecast.errors import RepliesUnsupported
from poster.commands.exits import meter, run_with_exit_codes, say
from poster.commands.options import (
    inference_client,
    inference_options,
    ledger_option,
    make_platform,
    platform_argument,
    platform_options,
    request_fields,
    request_option,
    run_timing_options,
    spending_options,
)
from poster.env_file import DotEnvCommand


@click.command("reply", cls=DotEnvCommand)
@platform_argument
@click.option("--max-replies", type=click.IntRange(min=1), default=5, show_default=True,
              envvar="LORECAST_MAX_REPLIES", show_envvar=True,
              help="Mentions answered (sent to TorchServe) in one run, at most; the others wait for the next run.")
@click.option("--author-cap", type=click.IntRange(min=1), default=3, show_default=True,
              envvar="LORECAST_REPLY_AUTHOR_CAP", show_envvar=True,
              help="Replies to one author within 24 hours, at most; their further mentions are skipped.")
@click.option("--thread-cap", type=click.IntRange(min=1), default=4, show_default=True,
              envvar="LORECAST_REPLY_THREAD_CAP", show_envvar=True,
              help="Replies in one thread, at most: two bots answering each other stop there.")
@click.option("--candidates", type=click.IntRange(1, 16), default=8, show_default=True,
              help="Answers to ask TorchServe for per mention, best first; the first whose reply the platform "
                   "accepts as it is gets sent.")
@click.option("--dry-run", is_flag=True,
              help="Read the mentions and print what the run would answer or skip, and why: nothing is sent and "
                   "the ledger is not written (on X the reads are billed, and recorded as such).")
@run_timing_options(deadline_s=240.0, max_wait_s=60.0)
@request_option
@inference_options
@ledger_option
@platform_options
@spending_options
def reply_command(platform: str, max_replies: int, author_cap: int, thread_cap: int, candidates: int, dry_run: bool,
                  deadline_s: float, max_wait_s: float, settle_after_s: float, request_json: str, endpoint: str,
                  key: str | None, key_file: str | None, ledger_path: str, monthly_cap_usd: float | None,
                  run_cap_usd: float | None, prices_path: str | None, **platform_settings: Any) -> None:
    """Answer the new mentions of the bot's account on PLATFORM (twitter, mastodon, bluesky, or stdout with
    --stdout-mention), each in its thread.

    \b
    A run: take the account's ledger lock (the one post runs take), settle replies of earlier runs whose
    outcome is unknown, read the mentions since the ledger's cursor, skip the bot's own posts, muted or blocked
    authors, the author and thread caps and what the worker's blocklist or toxicity screen refuses, then ask
    TorchServe for an answer conditioned on each mention (request field reply_to) and reply in its thread.
    Every mention, and why it was skipped, is kept in the ledger (`lorecast ledger mentions`).
    Tumblr is refused: its API does not let a blog read or answer its asks.
    Exit codes: 0 done, 1 error, 73 another run holds the lock, 75 rate limited past the deadline,
    76 the spending budget would be passed.
    """
    from poster.ledger import Ledger
    from poster.reply_run import ReplyOptions, plan_replies, reply_run

    if platform == "tumblr":  # before asking for its credentials: no credentials would help
        raise RepliesUnsupported("tumblr: lorecast cannot reply on Tumblr: its API does not let a blog read or "
                                 "answer its asks (the README's Replies section)")
    request = request_fields(request_json, reserved=("n", "reply_to", "seed", "prompt"))
    options = ReplyOptions(max_replies=max_replies, candidates=candidates, author_cap=author_cap,
                           thread_cap=thread_cap, deadline_s=deadline_s, max_wait_s=max_wait_s,
                           settle_after_s=settle_after_s, request=request)
    with inference_client(endpoint, key, key_file) as client, Ledger(Path(ledger_path)) as ledger:
        target = make_platform(platform, platform_settings, ledger_path=ledger_path,
                               meter=meter(ledger, platform, monthly_cap_usd, run_cap_usd, prices_path))
        if dry_run:
            for plan in run_with_exit_codes(lambda: plan_replies(target, ledger, client, options)):
                said = f"@{plan.mention.author} ({plan.mention.id}): {plan.mention.text!r}"
                click.echo(f"skip {said}: {plan.skip}" if plan.skip else f"answer {said} with {plan.text!r}")
            return
        summary = run_with_exit_codes(lambda: reply_run(target, ledger, client, options, say))
    say(summary.line())
    if platform != "stdout":  # the stdout platform has printed them already
        for answer in summary.answered:
            click.echo(answer.text)
