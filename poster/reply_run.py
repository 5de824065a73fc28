"""One reply run: read the mentions of the bot's account, answer the new ones in their threads, keep the ledger true.

    reply_run(platform, ledger, client, options, say) -> ReplySummary
    plan_replies(platform, ledger, client, options) -> list[Plan]     (--dry-run: what a run would answer; no writes)

A run, under the account's ledger lock (the one post runs take, so the two never overlap):
1. Settles the posts of earlier runs whose outcome is unknown, replies included (poster/run.py).
2. Reads the mentions newer than the ledger's cursor (the platform follows its pagination back to it) and stores
   them with the new cursor in one transaction: a crash loses no mention, and no mention is read twice.
3. Takes the stored mentions not answered yet, oldest first. Skipped, with the reason recorded: the bot's own
   posts, authors the platform says the account mutes or blocks, an author already answered `author_cap` times in
   the last 24 h, a thread the bot answered `thread_cap` times (two bots answering each other stop there), and
   mentions the worker's blocklist or toxicity screen refuses. At most `max_replies` mentions go on to TorchServe;
   the others wait for the next run.
4. Asks TorchServe for answers conditioned on the mention (the request's `reply_to`), and takes the first
   candidate whose reply text ("@author answer") the platform accepts and the account has not posted. The reply
   is a post row linked to its mention, written pending before it is sent, as posts are; once it is posted the
   mention is answered, in the same transaction. The ledger allows one live reply per mention.
5. Errors as in a post run: a reply whose outcome is unknown stays `unknown` and stops the run (later runs look
   it up); a rate limit past the deadline stops it with RateLimitedExit; a reply the platform refuses (the
   mention deleted, say) fails that mention and the run goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from lorecast.errors import AuthRefused, BudgetReached, PlatformError, RateLimited, RateLimitedExit, RepliesUnsupported
from poster.inference import GeneratedText, Generation, InferenceClient
from poster.ledger import Ledger, holder_id
from poster.ledger_mentions import MentionRow
from poster.platforms.base import Mention, MentionPage, Platform
from poster.retry import with_retries
from poster.run import Clock, PostOptions, PostSummary, draft_of, leave_nothing_pending, resolve_unresolved, send

Say = Callable[[str], None]
AUTHOR_WINDOW = timedelta(hours=24)  # the author cap counts the replies of this window


@dataclass(frozen=True)
class ReplyOptions:
    max_replies: int = 5  # mentions sent to TorchServe in one run, at most
    candidates: int = 8  # answers asked for per mention, best first
    attempts: int = 2  # generation rounds per mention before it fails
    author_cap: int = 3  # replies to one author within 24 h
    thread_cap: int = 4  # replies in one thread
    deadline_s: float = 240.0
    max_wait_s: float = 60.0
    settle_after_s: float = 600.0
    request: dict = field(default_factory=dict)  # extra inference request fields (temperature, ...)


@dataclass(frozen=True)
class Answer:
    mention: str  # the platform's id of the mention
    post_id: int  # the reply's ledger row
    remote_id: str
    text: str
    said: str | None  # the word of the mention the answer was seeded from (seed mode)
    seconds: float  # from the mentions read to the reply sent


@dataclass
class ReplySummary:
    read: int = 0  # mentions new to the ledger in this run
    answered: list[Answer] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # by kind: own post, muted, author cap, ...
    failed: int = 0
    left: int = 0  # mentions left for a later run (max_replies reached)

    def line(self) -> str:
        skipped = ", ".join(f"{kind} {count}" for kind, count in sorted(self.skipped.items())) or "none"
        return (f"mentions: {self.read} new, {len(self.answered)} answered, skipped: {skipped}, {self.failed} "
                f"failed, {self.left} left for a later run")


@dataclass(frozen=True)
class Plan:
    mention: Mention
    skip: str | None  # why it would be skipped; None when it would be answered
    text: str | None  # the reply it would send


def reply_run(platform: Platform, ledger: Ledger, client: InferenceClient, options: ReplyOptions, say: Say,
              clock: Callable[[], float] = time.monotonic,
              sleep: Callable[[float], None] = time.sleep) -> ReplySummary:
    _check_supported(platform)
    timing = Clock(clock() + options.deadline_s, clock, sleep)
    summary = ReplySummary()
    with ledger.lock(platform.name, platform.account, holder=holder_id(), stale_after_s=options.deadline_s):
        # Posts and replies of earlier runs whose outcome is unknown: each settled one is said as it goes.
        resolve_unresolved(platform, ledger, _post_options(options), PostSummary(), say, timing)
        read_at = _read_mentions(platform, ledger, summary, say, timing)
        tried = 0
        for row in ledger.open_mentions(platform.name, platform.account):
            skip = _cap(platform, ledger, options, row.mention, row.thread)
            if skip is not None:
                _skip(ledger, summary, row, skip, say)
            elif tried >= options.max_replies:
                summary.left += 1
            else:
                tried += 1
                _answer(platform, ledger, client, options, row, summary, say, timing, read_at)
    return summary


def plan_replies(platform: Platform, ledger: Ledger, client: InferenceClient, options: ReplyOptions) -> list[Plan]:
    """What a run would do with the mentions it would take now, without writing the ledger or posting."""
    _check_supported(platform)
    timing = Clock(time.monotonic() + options.deadline_s, time.monotonic, time.sleep)
    name, account = platform.name, platform.account
    stored = [(row.mention, row.thread) for row in ledger.open_mentions(name, account)]
    page = _page(platform, ledger.cursor(name, account), timing)
    known = ledger.known_mentions(name, account, [mention.id for mention in page.mentions])
    fresh = [(mention, ledger.thread_of(name, account, mention)) for mention in page.mentions
             if mention.id not in known]
    plans: list[Plan] = []
    answering = 0
    for mention, thread in stored + fresh:
        skip, text = _cap(platform, ledger, options, mention, thread), None
        if skip is None:
            if answering == options.max_replies:
                break
            answering += 1
            generation = client.generate(n=options.candidates, reply_to=mention.text, **options.request)
            skip = _refused(generation)
            if skip is None:
                text = next((text for _, text in _fitting(platform, ledger, mention, generation)), None)
                skip = None if text else "no answer fits"
        plans.append(Plan(mention, skip, text))
    return plans


def _check_supported(platform: Platform) -> None:
    if not platform.replies:
        raise RepliesUnsupported(f"{platform.name}: lorecast cannot read mentions or reply there")


def _post_options(options: ReplyOptions) -> PostOptions:
    return PostOptions(deadline_s=options.deadline_s, max_wait_s=options.max_wait_s,
                       settle_after_s=options.settle_after_s)


def _page(platform: Platform, cursor: str | None, timing: Clock, say: Say = lambda _line: None) -> MentionPage:
    try:
        return with_retries(lambda: platform.mentions(cursor), what="mentions read", deadline=timing.deadline,
                            clock=timing.clock, sleep=timing.sleep, say=say)
    except RateLimited as error:
        raise RateLimitedExit(f"{platform.name} rate limit: {error}") from None


def _read_mentions(platform: Platform, ledger: Ledger, summary: ReplySummary, say: Say, timing: Clock) -> float:
    page = _page(platform, ledger.cursor(platform.name, platform.account), timing, say)
    read_at = timing.clock()
    summary.read = ledger.record_mentions(platform.name, platform.account, page.mentions, page.cursor)
    if not page.complete:
        say(f"more mentions came since the last run than {platform.name}'s pages this run reads; the oldest of "
            "them are left out")
    return read_at


def _cap(platform: Platform, ledger: Ledger, options: ReplyOptions, mention: Mention, thread: str) -> str | None:
    """Why the mention must not be answered before anything is generated; None when it may be."""
    if mention.author_id == platform.own_id or _same_handle(mention.author, platform.account):
        return "own post"
    if mention.muted:
        return "muted or blocked"
    since = datetime.now(timezone.utc) - AUTHOR_WINDOW
    if ledger.replies_to_author(platform.name, platform.account, mention.author_id, since) >= options.author_cap:
        return f"author cap: {options.author_cap} replies to @{mention.author} in 24 h"
    if ledger.replies_in_thread(platform.name, platform.account, thread) >= options.thread_cap:
        return f"thread cap: {options.thread_cap} replies in this thread"
    return None


def _same_handle(author: str, account: str) -> bool:
    return author.lstrip("@").casefold() == account.lstrip("@").casefold()


def _refused(generation: Generation) -> str | None:
    if generation.reply is not None and generation.reply.refused:
        return f"{generation.reply.refused} screen"
    return None


def _fitting(platform: Platform, ledger: Ledger, mention: Mention,
             generation: Generation) -> Iterator[tuple[GeneratedText, str]]:
    """The candidates, best first, whose reply text the platform accepts as it is and the account has not posted."""
    for candidate in generation.texts:
        text = platform.reply_text(mention, candidate.text)
        if not ledger.has_text(platform.name, platform.account, text) and platform.fits(text) is None:
            yield candidate, text


def _answer(platform: Platform, ledger: Ledger, client: InferenceClient, options: ReplyOptions, row: MentionRow,
            summary: ReplySummary, say: Say, timing: Clock, read_at: float) -> None:
    mention = row.mention
    for _ in range(options.attempts):
        generation = client.generate(n=options.candidates, reply_to=mention.text, **options.request)
        ledger.record_generation(platform.name, platform.account, "reply", generation)
        refused = _refused(generation)
        if refused is not None:
            _skip(ledger, summary, row, refused, say)
            return
        for candidate, text in _fitting(platform, ledger, mention, generation):
            post_id = ledger.begin(platform.name, platform.account, text, score=candidate.score,
                                   ranked_by=generation.ranked_by, rng_seed=generation.rng_seed, reply_to=row.id,
                                   exploratory=candidate.exploratory)
            draft = draft_of(ledger.post(post_id), reply_to=mention)
            try:
                remote_id = send(platform, ledger, post_id, draft, say, timing, options.max_wait_s)
            except (AuthRefused, BudgetReached, RateLimitedExit):
                raise  # the account's problem, not this mention's: the mention waits for a later run
            except PlatformError as error:
                if ledger.post(post_id).state != "failed":
                    raise  # the reply may be out: later runs look it up, as for posts
                ledger.fail_mention(row.id, f"the reply was refused: {error}")
                summary.failed += 1
                say(f"mention {mention.id} by @{mention.author}: the reply was refused ({error})")
                return
            except BaseException:
                leave_nothing_pending(ledger, post_id)
                raise
            if remote_id is None:
                continue  # the platform holds this text already, not from us
            said = generation.reply.said if generation.reply is not None else None
            answer = Answer(mention.id, post_id, remote_id, text, said, timing.clock() - read_at)
            summary.answered.append(answer)
            say(f"answered mention {mention.id} by @{mention.author} as {remote_id}"
                + (f" (seeded from {said!r})" if said else "") + f", {answer.seconds:.2f} s after the mentions read")
            return
    ledger.fail_mention(row.id, f"no answer fit after {options.attempts} rounds of {options.candidates}")
    summary.failed += 1
    say(f"mention {mention.id} by @{mention.author}: no answer fit")


def _skip(ledger: Ledger, summary: ReplySummary, row: MentionRow, reason: str, say: Say) -> None:
    ledger.skip_mention(row.id, reason)
    kind = reason.split(":", 1)[0]
    summary.skipped[kind] = summary.skipped.get(kind, 0) + 1
    say(f"skipped mention {row.mention.id} by @{row.mention.author}: {reason}")
