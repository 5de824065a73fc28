"""`lorecast post PLATFORM` and `lorecast feedback PLATFORM`: two of the things a poster CronJob runs (their exit
codes: poster/commands/exits.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

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


@click.command("post", cls=DotEnvCommand)
@platform_argument
@click.option("--count", type=click.IntRange(min=1), default=1, show_default=True,
              help="Texts to publish in this run.")
@click.option("--candidates", type=click.IntRange(1, 16), default=8, show_default=True,
              help="Texts to ask TorchServe for, best first; the first one not posted before that the platform "
                   "accepts as it is gets published (a text too long is skipped, never cut).")
@click.option("--dry-run", is_flag=True,
              help="Ask TorchServe and pick the text as a real run would, print it, and stop: nothing is "
                   "published and no post is recorded (on X the account lookup is billed, and recorded as such).")
@run_timing_options(deadline_s=300.0, max_wait_s=120.0)
@click.option("--allow-links", is_flag=True, envvar="LORECAST_ALLOW_LINKS", show_envvar=True,
              help="Post texts with a link on X too (X bills a post with a link about 13 times a plain one); "
                   "without it such candidates are skipped on X.")
@request_option
@inference_options
@ledger_option
@platform_options
@spending_options
def post_command(platform: str, count: int, candidates: int, dry_run: bool, deadline_s: float, max_wait_s: float,
                 settle_after_s: float, allow_links: bool, request_json: str, endpoint: str, key: str | None,
                 key_file: str | None, ledger_path: str, monthly_cap_usd: float | None, run_cap_usd: float | None,
                 prices_path: str | None, **platform_settings: Any) -> None:
    """Publish the best new text from TorchServe to PLATFORM (twitter, tumblr, mastodon, bluesky, or stdout for a
    dry look).

    \b
    A run: take the account's ledger lock, look up the posts of earlier runs whose outcome is unknown, ask
    TorchServe for candidates, record the chosen one as pending, publish it, record it as posted with its
    remote id.
    Exit codes: 0 done, 1 error, 73 another run holds the lock, 75 rate limited past the deadline,
    76 the spending budget would be passed.
    """
    from poster.ledger import Ledger
    from poster.run import PostOptions, choose_text, post_run

    request = request_fields(request_json)
    options = PostOptions(count=count, candidates=candidates, deadline_s=deadline_s, max_wait_s=max_wait_s,
                          settle_after_s=settle_after_s, request=request)
    with inference_client(endpoint, key, key_file) as client, Ledger(Path(ledger_path)) as ledger:
        target = make_platform(platform, platform_settings, ledger_path=ledger_path, allow_links=allow_links,
                               meter=meter(ledger, platform, monthly_cap_usd, run_cap_usd, prices_path))
        if dry_run:
            text = choose_text(target, ledger, client, options, say)
            click.echo(text)
            return
        summary = run_with_exit_codes(lambda: post_run(target, ledger, client, options, say))
    if platform != "stdout":  # the stdout platform has printed them already
        for _, _, text in summary.posted:
            click.echo(text)


@click.command("feedback", cls=DotEnvCommand)
@platform_argument
@click.option("--days", type=click.FloatRange(min=0, min_open=True), default=7.0, show_default=True,
              help="Collect engagement for the posts of the last this many days (older posts' numbers hardly "
                   "change, and on X every post read is billed).")
@ledger_option
@platform_options
@spending_options
def feedback_command(platform: str, days: float, ledger_path: str, monthly_cap_usd: float | None,
                     run_cap_usd: float | None, prices_path: str | None, **platform_settings: Any) -> None:
    """Store the current engagement of recent posts on PLATFORM in the ledger, for the selector to learn from.

    \b
    X: likes, reposts, replies, quotes and impressions (GET /2/tweets, 100 posts a request, each billed);
    Tumblr: note counts; Mastodon: favourites, boosts, replies; Bluesky: likes, reposts, replies, quotes.
    Exit codes: 0 done, 1 error, 75 rate limited, 76 the spending budget would be passed.
    """
    from poster.ledger import Ledger
    from poster.run import feedback_run

    with Ledger(Path(ledger_path), create=False) as ledger:  # nothing posted yet: say so, do not create one
        target = make_platform(platform, platform_settings, ledger_path=ledger_path,
                               meter=meter(ledger, platform, monthly_cap_usd, run_cap_usd, prices_path))
        run_with_exit_codes(lambda: feedback_run(target, ledger, days, say))
