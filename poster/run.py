"""One poster run: ask TorchServe for candidates, publish the best that fits, and keep the ledger true.

    post_run(platform, ledger, client, options, say) -> PostSummary
    feedback_run(platform, ledger, options, say) -> int        (posts whose engagement was stored)

How a post run keeps the ledger consistent and never posts a text twice:
1. It takes the ledger's lock for (platform, account): a second run at the same time stops with LedgerBusy.
2. It resolves rows left `pending` by a run that died between sending and recording: when the platform has the
   text (`find`), the row becomes `posted` with that id; otherwise `failed`, which frees the text again.
3. For each text to post it asks for candidates, best first, and takes the first one the ledger has not seen for
   this account and the platform accepts as it is (`fits`: a text too long is skipped, never cut).
4. The row is written `pending` BEFORE the text is sent, and `posted` with the remote id after. An error
   decides the row's fate: the platform's duplicate error or a dropped connection is resolved with `find` (it
   may have been posted after all); anything else marks it `failed` with the reason.
5. Rate limits: when the limit resets before the run's deadline (and within `max_wait_s`) the run sleeps and
   tries again; otherwise it stops with RateLimitedExit, which the CLI turns into its own exit code.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from lorecast.errors import (
    AuthRefused,
    DuplicatePost,
    NothingToPost,
    PlatformError,
    RateLimited,
    RateLimitedExit,
)
from poster.inference import InferenceClient
from poster.ledger import Ledger, holder_id
from poster.platforms.base import Platform

Say = Callable[[str], None]


@dataclass(frozen=True)
class PostOptions:
    count: int = 1  # texts to publish in this run
    candidates: int = 8  # texts to ask TorchServe for each time (n), best first
    attempts: int = 3  # generation rounds per text before giving up
    deadline_s: float = 300.0  # the run must be done by then (the CronJob's activeDeadlineSeconds, less a margin)
    max_wait_s: float = 120.0  # the longest sleep for a rate limit to reset
    request: dict = field(default_factory=dict)  # extra inference request fields (temperature, explore, ...)


@dataclass
class PostSummary:
    posted: list[tuple[int, str, str]] = field(default_factory=list)  # (ledger id, remote id, text)
    resolved: int = 0  # pending rows of crashed runs settled
    skipped: dict[str, int] = field(default_factory=dict)  # candidates passed over, by reason


def post_run(platform: Platform, ledger: Ledger, client: InferenceClient, options: PostOptions, say: Say,
             clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> PostSummary:
    deadline = clock() + options.deadline_s
    summary = PostSummary()
    with ledger.lock(platform.name, platform.account, holder=holder_id(), stale_after_s=options.deadline_s):
        summary.resolved = resolve_pending(platform, ledger, say)
        while len(summary.posted) < options.count:
            summary.posted.append(_post_one(platform, ledger, client, options, summary, say, deadline, clock, sleep))
    return summary


def resolve_pending(platform: Platform, ledger: Ledger, say: Say) -> int:
    rows = ledger.pending(platform.name, platform.account)
    for row in rows:
        remote_id = platform.find(row.text)
        if remote_id is not None:
            ledger.mark_posted(row.id, remote_id)
            say(f"resolved post {row.id} of an interrupted run: it is on {platform.name} as {remote_id}")
        else:
            ledger.mark_failed(row.id, "interrupted run; the text is not on the platform")
            say(f"resolved post {row.id} of an interrupted run: never published, marked failed")
    return len(rows)


def choose_text(platform: Platform, ledger: Ledger, client: InferenceClient, options: PostOptions,
                say: Say) -> str:
    """The text a run would publish now (for --dry-run): nothing is written anywhere."""
    summary = PostSummary()
    for _ in range(options.attempts):
        generation = client.generate(n=options.candidates, **options.request)
        for candidate in _usable(platform, ledger, generation, summary, say):
            return candidate.text
    raise _nothing_to_post(options, summary)


def _post_one(platform, ledger, client, options, summary, say, deadline, clock, sleep):
    for _ in range(options.attempts):
        generation = client.generate(n=options.candidates, **options.request)
        for candidate in _usable(platform, ledger, generation, summary, say):
            text = candidate.text
            post_id = ledger.begin(platform.name, platform.account, text, score=candidate.score,
                                   ranked_by=generation.ranked_by, rng_seed=generation.rng_seed)
            remote_id = _send(platform, ledger, post_id, text, say, deadline, clock, sleep, options.max_wait_s)
            if remote_id is None:
                _skip(summary, "duplicate on the platform")
                continue
            say(f"posted {post_id} to {platform.name} as {remote_id}")
            return post_id, remote_id, text
    raise _nothing_to_post(options, summary)


def _usable(platform, ledger, generation, summary, say):
    """The candidates of a generation that this account may publish, best first."""
    for candidate in generation.texts:
        if ledger.has_text(platform.name, platform.account, candidate.text):
            _skip(summary, "posted before")
            continue
        refusal = platform.fits(candidate.text)
        if refusal is not None:
            _skip(summary, "does not fit")
            say(f"skipped a candidate: {refusal}")
            continue
        yield candidate


def _nothing_to_post(options: PostOptions, summary: PostSummary) -> NothingToPost:
    return NothingToPost(f"no candidate could be posted after {options.attempts} rounds of {options.candidates} "
                         f"(skipped: {_counts(summary.skipped)})")


def _send(platform, ledger, post_id, text, say, deadline, clock, sleep, max_wait_s) -> str | None:
    """The remote id once the text is on the platform; None when the platform refused it as a duplicate that is
    not ours to record (the row is then failed). Raises after marking the row failed for any other error."""
    while True:
        try:
            remote_id = platform.post(text)
        except RateLimited as error:
            wait = None if error.reset_at is None else max(0.0, error.reset_at - time.time()) + 1.0
            if wait is None or wait > max_wait_s or clock() + wait > deadline:
                ledger.mark_failed(post_id, f"rate limited: {error}")
                raise RateLimitedExit(f"{platform.name} rate limit: {error}") from None
            say(f"rate limited by {platform.name}; waiting {wait:.0f} s for the reset")
            sleep(wait)
            continue
        except DuplicatePost as error:
            return _settle_unknown(platform, ledger, post_id, text, f"duplicate: {error}", say)
        except AuthRefused as error:
            ledger.mark_failed(post_id, f"auth refused: {error}")
            raise
        except PlatformError as error:
            if not error.transient:
                ledger.mark_failed(post_id, str(error))
                raise
            # A dropped connection or a 5xx may come after the platform took the post: ask before failing it.
            remote_id = _settle_unknown(platform, ledger, post_id, text, str(error), say)
            if remote_id is None:
                raise
            return remote_id
        ledger.mark_posted(post_id, remote_id)
        return remote_id


def _settle_unknown(platform, ledger, post_id, text, reason, say) -> str | None:
    """After an answer that leaves it open whether the text was published, ask the platform."""
    remote_id = platform.find(text)
    if remote_id is None:
        ledger.mark_failed(post_id, reason)
        return None
    ledger.mark_posted(post_id, remote_id)
    say(f"{reason}; the text is on {platform.name} as {remote_id}, recorded as posted")
    return remote_id


def feedback_run(platform: Platform, ledger: Ledger, days: float, say: Say) -> int:
    """Store current engagement for every post of the last `days` days; returns how many got numbers."""
    since = datetime.now(timezone.utc) - timedelta(days=days)
    rows = [row for row in ledger.posted_since(platform.name, platform.account, since) if row.remote_id]
    counts = platform.engagement([row.remote_id for row in rows])
    fetched_at = datetime.now(timezone.utc)
    for row in rows:
        if row.remote_id in counts:
            ledger.record_engagement(row.id, counts[row.remote_id], fetched_at)
    say(f"engagement of {len(counts)} of {len(rows)} posts from the last {days:g} days stored")
    return len(counts)


def _skip(summary: PostSummary, reason: str) -> None:
    summary.skipped[reason] = summary.skipped.get(reason, 0) + 1


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{reason} {count}" for reason, count in counts.items()) or "none"
