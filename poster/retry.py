"""Trying a call again when the platform failed it in passing, for calls that are safe to repeat.

    remote_id = with_retries(lambda: platform.find(draft), what="lookup", deadline=deadline, clock=clock,
                             sleep=sleep, say=say)

Safe to repeat: lookups, engagement reads, and creates the platform makes idempotent (Mastodon's Idempotency-Key,
Bluesky's record key). A transient PlatformError (5xx, timeout, dropped connection) is tried again after 1, 2,
4 ... seconds, as long as the wait ends before the run's deadline; anything else, and the last failure, is
raised. A rate limit is not retried here: the run decides whether to wait for its reset.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from lorecast.errors import PlatformError, RateLimited

ATTEMPTS = 4
FIRST_DELAY_S = 1.0

T = TypeVar("T")


def with_retries(action: Callable[[], T], *, what: str, deadline: float, clock: Callable[[], float],
                 sleep: Callable[[float], None], say: Callable[[str], None], attempts: int = ATTEMPTS) -> T:
    delay = FIRST_DELAY_S
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except RateLimited:
            raise
        except PlatformError as error:
            if not error.transient or attempt == attempts or clock() + delay > deadline:
                raise
            say(f"{what} failed ({error}); trying again in {delay:g} s")
            sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")
