"""What the poster commands that run against a platform share: their exit codes, their progress lines on stderr,
and the meter of X's billed calls.

Exit codes (so that a CronJob's history tells them apart): 0 done; 1 an error (one line on stderr); 2 a usage
error; 73 another run holds this account's ledger lock (nothing was done); 75 rate limited until after this
run's deadline (nothing was lost: the next run goes on); 76 a billed call would pass the spending budget (it was
not made). The Kubernetes Jobs end on 73, 75 and 76 without a retry (their podFailurePolicy).
"""

from __future__ import annotations

import click

EXIT_BUSY = 73
EXIT_RATE_LIMITED = 75
EXIT_BUDGET = 76


def say(line: str) -> None:
    click.echo(line, err=True)


def run_with_exit_codes(action):
    """Run `action()`, turning the lock, rate-limit and budget stops into their exit codes."""
    from lorecast.errors import BudgetReached, LedgerBusy, RateLimited, RateLimitedExit

    try:
        return action()
    except LedgerBusy as error:
        say(f"error: {error}")
        raise click.exceptions.Exit(EXIT_BUSY) from None
    except (RateLimitedExit, RateLimited) as error:  # RateLimited: a call outside the post, e.g. the account's
        say(f"error: {error}")
        raise click.exceptions.Exit(EXIT_RATE_LIMITED) from None
    except BudgetReached as error:
        say(f"error: {error}")
        raise click.exceptions.Exit(EXIT_BUDGET) from None


def meter(ledger, platform: str, monthly_cap_usd, run_cap_usd, prices_path):
    from poster.costs import Meter, read_prices

    return Meter(ledger, platform, read_prices(prices_path), monthly_cap_usd=monthly_cap_usd, run_cap_usd=run_cap_usd)
