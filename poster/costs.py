"""What billed platform calls cost, and the caps that stop a run before a call would pass them.

    prices = read_prices(path)                      # DEFAULT_PRICES with a JSON file's entries over them
    meter = Meter(ledger, "twitter", prices, monthly_cap_usd=5.0, run_cap_usd=0.5)
    with meter.call("read", at_most=100) as bill:   # BudgetReached here, before the call, if it could pass a cap
        items = ...                                 # the call itself
        bill.units = len(items)                     # what was billed; recorded in the ledger on leaving the block
    with meter.call("post") as bill:
        bill.units = 1                              # set before the call: a post is billed even when no answer came
        ...

X bills per use (since early 2026, for new developer accounts): each post, each post with a link (much more), and
each of the account's own posts read back. Calls are priced from a table, not asked of X, because X does not say
in its answers what a call cost. A call is recorded whatever its outcome (a post that timed out may have been
billed); a read that returned nothing records nothing. The monthly cap counts every account of the ledger on
that platform (the bill is the developer account's), in calendar months of UTC. The check reads the ledger and
reserves nothing: two runs sharing a ledger (the post and feedback jobs) may both pass it near the cap, by one
call each at most.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from lorecast.errors import BudgetReached, SourceError

# US dollars per unit, as published by X when this was written (December 2026); they change: the README says
# where to look, and --prices FILE overrides them. A platform or kind not listed is free.
DEFAULT_PRICES: dict[str, dict[str, float]] = {
    "twitter": {"post": 0.015, "post_with_link": 0.20, "read": 0.001},
}


def read_prices(path: Path | None) -> dict[str, dict[str, float]]:
    """DEFAULT_PRICES, with the entries of the JSON file `path` ({"twitter": {"read": 0.002}, ...}) over them."""
    prices = {platform: dict(kinds) for platform, kinds in DEFAULT_PRICES.items()}
    if path is None:
        return prices
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise SourceError(path, f"cannot read the price table ({error.strerror or error})") from None
    except ValueError as error:
        raise SourceError(path, f"not JSON ({error})") from None
    if not isinstance(document, dict):
        raise SourceError(path, 'a price table is a JSON object: {"twitter": {"post": 0.015, ...}}')
    for platform, kinds in document.items():
        if not isinstance(kinds, dict):
            raise SourceError(path, f"{platform}: an object of kinds and US dollars per unit")
        for kind, price in kinds.items():
            if isinstance(price, bool) or not isinstance(price, (int, float)) or price < 0:
                raise SourceError(path, f"{platform}.{kind}: a price is a number of US dollars, 0 or more")
            prices.setdefault(platform, {})[kind] = float(price)
    return prices


@dataclass
class Bill:
    kind: str
    units: int


class Meter:
    """The billed calls of one platform in one run: checked against the caps before, recorded in the ledger after."""

    def __init__(self, ledger, platform: str, prices: Mapping[str, Mapping[str, float]] = DEFAULT_PRICES,
                 monthly_cap_usd: float | None = None, run_cap_usd: float | None = None) -> None:
        self.ledger = ledger
        self.platform = platform
        self.account = ""  # set by the platform once it knows the account
        self.prices = dict(prices.get(platform, {}))
        self.monthly_cap_usd = monthly_cap_usd
        self.run_cap_usd = run_cap_usd
        self.run_spent_usd = 0.0

    def cost(self, kind: str, units: int) -> float:
        return self.prices.get(kind, 0.0) * units

    @contextmanager
    def call(self, kind: str, at_most: int = 1) -> Iterator[Bill]:
        """Guard one call that may bill up to `at_most` units of `kind`; the caller sets what it billed."""
        self._check(kind, at_most)
        bill = Bill(kind, 0)
        try:
            yield bill
        finally:
            if bill.units:
                cost = self.cost(kind, bill.units)
                self.run_spent_usd += cost
                self.ledger.record_call(self.platform, self.account, kind, bill.units, cost)

    def _check(self, kind: str, units: int) -> None:
        cost = self.cost(kind, units)
        if not cost:
            return
        if self.run_cap_usd is not None and self.run_spent_usd + cost > self.run_cap_usd:
            raise BudgetReached(f"{self.platform}: this run spent ${self.run_spent_usd:.3f} of its "
                                f"${self.run_cap_usd:.2f} cap (--max-run-spend); a {kind} call of up to "
                                f"${cost:.3f} would pass it: not made")
        if self.monthly_cap_usd is not None:
            month = month_start(datetime.now(timezone.utc))
            spent = self.ledger.spent(self.platform, month)
            if spent + cost > self.monthly_cap_usd:
                raise BudgetReached(f"{self.platform}: ${spent:.3f} of the ${self.monthly_cap_usd:.2f} monthly budget "
                                    f"(--max-monthly-spend) spent in {month:%Y-%m}; a {kind} call of up to "
                                    f"${cost:.3f} would pass it: not made")


def month_start(when: datetime) -> datetime:
    return when.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
