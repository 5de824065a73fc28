"""The --at-age type: how long after posting a post's engagement is read, shared by `lorecast ledger report`,
`lorecast train selector --ledger` and `lorecast retrain` (trainer may import it; poster may not import trainer)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import click

_AGE = re.compile(r"(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[smhd]?)")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "": "hours", "d": "days"}


class Age(click.ParamType):
    """A positive age: "24h", "90m", "45s", "2d", or a bare number of hours."""

    name = "AGE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> timedelta:
        if isinstance(value, timedelta):
            age = value
        else:
            match = _AGE.fullmatch(str(value).strip().lower())
            age = timedelta(**{_UNITS[match["unit"]]: float(match["number"])}) if match else None
        if age is None or age <= timedelta(0):
            self.fail(f"{value!r} is not a positive age such as 24h, 90m, 45s, 2d or 36 (hours)", param, ctx)
        return age
