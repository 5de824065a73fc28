"""One poster run: ask TorchServe for candidates, publish the best that fits, and keep the ledger true.

    post_run(platform, ledger, client, options, say) -> PostSummary
    feedback_run(platform, ledger, days, say) -> int           (posts whose engagement was stored)

How a post run keeps the ledger consistent and never posts a text twice:
1. It takes the ledger's lock for (platform, account): a second run at the same time stops with LedgerBusy.
2. It looks up the rows whose outcome no run recorded: `pending` (a run died between sending and recording) and
   `unknown` (an answer that never came, a lookup that was refused). Found on the platform: `posted` with that id.
   Not found, and written more than `settle_after_s` ago: `failed`, which frees the text. Not found yet, or the
   lookup refused or not possible: `unknown`, its text stays claimed, and the run goes on to post other texts.
3. For each text to post it asks for candidates, best first, and takes the first one the ledger has not seen for
   this account and the platform accepts as it is (`fits`: a text too long is skipped, never cut).
4. The row is written `pending` BEFORE the text is sent, and `posted` with the remote id after. An error decides
   the row's fate:
   - a refusal (4xx, credentials, rate limit, budget): `failed`, nothing went out;
   - the platform's duplicate error: looked up (it may be ours, from a crashed run);
   - no answer or a 5xx: the post may be out. A platform whose creates are idempotent is asked again with the
     same key (retries with backoff inside the deadline); then the run looks it up. Found: `posted`; otherwise
     `unknown`, never `failed`, and the run stops: later runs look again before anything frees the text.
5. Rate limits: when the limit resets before the run's deadline (and within `max_wait_s`) the run sleeps and
   tries again; otherwise it stops with RateLimitedExit, which the CLI turns into its own exit code. A billed
   call that would pass a spending cap is not made: BudgetReached, its own exit code too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from lorecast.errors import (
    AuthRefused,
    BudgetReached,
    DuplicatePost,
    LedgerError,
    NothingToPost,
    PlatformError,
    RateLimited,
    RateLimitedExit,
)
from poster.inference import InferenceClient
from poster.ledger import Ledger, PostRow, holder_id
from poster.platforms.base import Draft, Engagement, Mention, Platform
from poster.retry import ATTEMPTS, with_retries
from poster.tid import tid

Say = Callable[[str], None]
FEEDBACK_CHUNK = 100  # posts a feedback run asks about at a time: a multiple of every platform's batch


@dataclass(frozen=True)
class PostOptions:
    count: int = 1  # texts to publish in this run
    candidates: int = 8  # texts to ask TorchServe for each time (n), best first
    attempts: int = 3  # generation rounds per text before giving up
    deadline_s: float = 300.0  # the run must be done by then (the CronJob's activeDeadlineSeconds, less a margin)
    max_wait_s: float = 120.0  # the longest sleep for a rate limit to reset
    settle_after_s: float = 600.0  # a post not found this long after its row was written never went out
    request: dict = field(default_factory=dict)  # extra inference request fields (temperature, explore, ...)


@dataclass
class PostSummary:
    posted: list[tuple[int, str, str]] = field(default_factory=list)  # (ledger id, remote id, text)
    resolved: int = 0  # rows of earlier runs settled as posted or failed
    unknown: int = 0  # rows of earlier runs whose outcome is still unknown
    skipped: dict[str, int] = field(default_factory=dict)  # candidates passed over, by reason


@dataclass(frozen=True)
class Clock:
    deadline: float
    clock: Callable[[], float]
    sleep: Callable[[float], None]


def draft_of(row: PostRow, reply_to: Mention | None = None) -> Draft:
    """The draft of a ledger row (a reply to `reply_to`, if given): its key is derived from the row, so it is the
    same in every run."""
    return Draft(row.text, tid(row.created_at, row.id), row.created_at, reply_to=reply_to)


def post_run(platform: Platform, ledger: Ledger, client: InferenceClient, options: PostOptions, say: Say,
             clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> PostSummary:
    timing = Clock(clock() + options.deadline_s, clock, sleep)
    summary = PostSummary()
    with ledger.lock(platform.name, platform.account, holder=holder_id(), stale_after_s=options.deadline_s):
        resolve_unresolved(platform, ledger, options, summary, say, timing)
        while len(summary.posted) < options.count:
            summary.posted.append(_post_one(platform, ledger, client, options, summary, say, timing))
    return summary


def resolve_unresolved(platform: Platform, ledger: Ledger, options: PostOptions, summary: PostSummary, say: Say,
                       timing: Clock) -> None:
    for row in ledger.unresolved(platform.name, platform.account):
        try:
            remote_id = _look_up(platform, draft_of(row), say, timing)
        except BudgetReached:
            ledger.mark_unknown(row.id, "not looked up: the spending budget was reached")
            raise
        except PlatformError as error:
            ledger.mark_unknown(row.id, f"lookup failed: {error}")
            summary.unknown += 1
            say(f"post {row.id} of an earlier run is still unresolved (the lookup failed: {error}); its text stays "
                f"blocked until a later run finds out, or `lorecast ledger settle {row.id}`")
            continue
        if remote_id is not None:
            ledger.mark_posted(row.id, remote_id)
            summary.resolved += 1
            say(f"resolved post {row.id} of an earlier run: it is on {platform.name} as {remote_id}")
        elif (age_s := _age_s(row)) >= options.settle_after_s:
            ledger.mark_failed(row.id, f"not on {platform.name} {age_s / 60:.0f} min after it was sent")
            summary.resolved += 1
            say(f"resolved post {row.id} of an earlier run: never published, marked failed")
        else:
            ledger.mark_unknown(row.id, f"not on {platform.name} yet; looked up again by later runs")
            summary.unknown += 1
            say(f"post {row.id} of an earlier run is not on {platform.name} yet; a later run looks again")


def choose_text(platform: Platform, ledger: Ledger, client: InferenceClient, options: PostOptions,
                say: Say) -> str:
    """The text a run would publish now (for --dry-run): no post is recorded (a billed call still is, by the meter)."""
    summary = PostSummary()
    for _ in range(options.attempts):
        generation = client.generate(n=options.candidates, **options.request)
        for candidate in _usable(platform, ledger, generation, summary, say):
            return candidate.text
    raise _nothing_to_post(options, summary)


def _post_one(platform, ledger, client, options, summary, say, timing):
    for _ in range(options.attempts):
        generation = client.generate(n=options.candidates, **options.request)
        ledger.record_generation(platform.name, platform.account, "post", generation)
        for candidate in _usable(platform, ledger, generation, summary, say):
            post_id = ledger.begin(platform.name, platform.account, candidate.text, score=candidate.score,
                                   ranked_by=generation.ranked_by, rng_seed=generation.rng_seed,
                                   exploratory=candidate.exploratory)
            draft = draft_of(ledger.post(post_id))
            try:
                remote_id = send(platform, ledger, post_id, draft, say, timing, options.max_wait_s)
            except BaseException:
                leave_nothing_pending(ledger, post_id)
                raise
            if remote_id is None:
                _skip(summary, "duplicate on the platform")
                continue
            say(f"posted {post_id} to {platform.name} as {remote_id}")
            return post_id, remote_id, draft.text
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


def send(platform: Platform, ledger: Ledger, post_id: int, draft: Draft, say: Say, timing: Clock,
          max_wait_s: float) -> str | None:
    """The remote id once the text is on the platform; None when the platform refused it as a duplicate that is
    not ours to record (the row is then failed). Raises after recording the row's fate for any other error."""
    # Only a create the platform makes idempotent may be sent again: any other could post the text twice.
    attempts = ATTEMPTS if platform.idempotent_create else 1
    unanswered: list[PlatformError] = []  # attempts that got no answer (or a 5xx): each may have posted the text

    def attempt() -> str:
        try:
            return platform.post(draft)
        except PlatformError as error:
            if error.transient and not isinstance(error, RateLimited):
                unanswered.append(error)
            raise

    while True:
        try:
            remote_id = with_retries(attempt, what=f"post {post_id}", attempts=attempts, deadline=timing.deadline,
                                     clock=timing.clock, sleep=timing.sleep, say=say)
        except DuplicatePost as error:
            return _settle_duplicate(platform, ledger, post_id, draft, f"duplicate: {error}", say, timing)
        except (PlatformError, BudgetReached) as error:
            if unanswered:
                # An attempt got no answer, so the post may be out whatever a later one says: only a lookup tells.
                return _settle_unanswered(platform, ledger, post_id, draft, unanswered[0], say, timing)
            if isinstance(error, RateLimited):
                wait = None if error.reset_at is None else max(0.0, error.reset_at - time.time()) + 1.0
                if wait is None or wait > max_wait_s or timing.clock() + wait > timing.deadline:
                    ledger.mark_failed(post_id, f"rate limited: {error}")
                    raise RateLimitedExit(f"{platform.name} rate limit: {error}") from None
                say(f"rate limited by {platform.name}; waiting {wait:.0f} s for the reset")
                timing.sleep(wait)
                continue
            reason = {BudgetReached: "not sent: ", AuthRefused: "auth refused: "}.get(type(error), "")
            ledger.mark_failed(post_id, f"{reason}{error}")  # refused: nothing went out
            raise
        ledger.mark_posted(post_id, remote_id)
        return remote_id


def _settle_duplicate(platform, ledger, post_id, draft, reason, say, timing) -> str | None:
    """The platform says it has this text: ours (a crashed run's) when the lookup finds it, else not ours."""
    try:
        remote_id = _look_up(platform, draft, say, timing)
    except (PlatformError, BudgetReached) as error:
        ledger.mark_unknown(post_id, f"{reason}; the lookup failed: {error}")
        raise
    if remote_id is None:
        ledger.mark_failed(post_id, reason)
        return None
    ledger.mark_posted(post_id, remote_id)
    say(f"{reason}; the text is on {platform.name} as {remote_id}, recorded as posted")
    return remote_id


def _settle_unanswered(platform, ledger, post_id, draft, error, say, timing) -> str:
    """After a send that got no answer (or a 5xx) the post may be out: posted when found (its remote id), else
    unknown, and the run stops with the error."""
    try:
        remote_id = _look_up(platform, draft, say, timing)
    except (PlatformError, BudgetReached) as lookup_error:
        ledger.mark_unknown(post_id, f"{error}; the lookup failed: {lookup_error}")
        raise PlatformError(f"{error}; post {post_id} may be out (the lookup failed: {lookup_error}): its text "
                            "stays blocked, later runs look again") from None
    if remote_id is None:
        ledger.mark_unknown(post_id, f"{error}; not found by an immediate lookup")
        raise PlatformError(f"{error}; post {post_id} is not on {platform.name} yet, but may appear: its text "
                            "stays blocked, later runs look again") from None
    ledger.mark_posted(post_id, remote_id)
    say(f"{error}; the text is on {platform.name} as {remote_id}, recorded as posted")
    return remote_id


def leave_nothing_pending(ledger: Ledger, post_id: int) -> None:
    """After an error the run did not expect while sending, the post may be out: a row still pending becomes
    unknown, which later runs look up. If the ledger itself fails, the row stays pending: the next run settles it."""
    try:
        if ledger.post(post_id).state == "pending":
            ledger.mark_unknown(post_id, "the run stopped on an unexpected error while sending")
    except LedgerError:
        pass


def _look_up(platform: Platform, draft: Draft, say: Say, timing: Clock) -> str | None:
    return with_retries(lambda: platform.find(draft), what="lookup", deadline=timing.deadline, clock=timing.clock,
                        sleep=timing.sleep, say=say)


def feedback_run(platform: Platform, ledger: Ledger, days: float, say: Say,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 deadline_s: float = 300.0) -> int:
    """Store current engagement for every post of the last `days` days; returns how many got numbers."""
    since = datetime.now(timezone.utc) - timedelta(days=days)
    rows = [row for row in ledger.posted_since(platform.name, platform.account, since) if row.remote_id]
    ids = [row.remote_id for row in rows]
    deadline = clock() + deadline_s
    counts: dict[str, Engagement] = {}
    try:
        for start in range(0, len(ids), FEEDBACK_CHUNK):  # a retry reads (and on X pays for) one chunk again
            chunk = ids[start:start + FEEDBACK_CHUNK]
            counts.update(with_retries(lambda chunk=chunk: platform.engagement(chunk), what="engagement read",
                                       deadline=deadline, clock=clock, sleep=sleep, say=say))
    except RateLimited as error:
        raise RateLimitedExit(f"{platform.name} rate limit: {error}") from None
    fetched_at = datetime.now(timezone.utc)
    for row in rows:
        if row.remote_id in counts:
            ledger.record_engagement(row.id, counts[row.remote_id], fetched_at)
    say(f"engagement of {len(counts)} of {len(rows)} posts from the last {days:g} days stored")
    return len(counts)


def _age_s(row: PostRow) -> float:
    return (datetime.now(timezone.utc) - row.created_at).total_seconds()


def _skip(summary: PostSummary, reason: str) -> None:
    summary.skipped[reason] = summary.skipped.get(reason, 0) + 1


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{reason} {count}" for reason, count in counts.items()) or "none"
