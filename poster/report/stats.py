"""The numbers of `lorecast ledger report`, read from an open Ledger with its public methods; pure Python.

Definitions, so that two reports compare:
  own post      a post row that answers no mention (reply_to is None); the engagement numbers are of posted own
                posts only: a reply's engagement depends on the thread it joins more than on its text
  at the age    a post's total engagement in its snapshot nearest to `age` after posting
                (Ledger.engagement_at_age); a post younger than the age has no number yet ("too young"), and
                one older whose snapshots are all further than the tolerance from the age, or that has none, has
                none either ("no snapshot near the age")
  day           the UTC date a post was posted
  score decile  the posted own posts ranked by the selector (ranked_by "selector"; "logprob" scores are the
                generator's log-probabilities, another scale) that have a number at the age, sorted by score and
                cut into min(10, n) groups of near-equal size, per platform
  Spearman      the rank correlation of score and engagement at the age (ties share their mean rank)
  pick          "explore": chosen at random among lower-ranked candidates; "exploit": the top candidate;
                "unknown": posted before the ledger recorded it (schema < 4)
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from poster.ledger import Ledger, PostRow
from poster.ledger_engagement import AgedPost

MAX_DECILES = 10
PICKS = ("exploit", "explore", "unknown")


@dataclass(frozen=True)
class Spread:
    """Engagement at the age of a group of posts; mean and median are None for an empty group."""

    count: int
    mean: float | None
    median: float | None

    @classmethod
    def of(cls, totals: list[float]) -> Spread:
        if not totals:
            return cls(0, None, None)
        return cls(len(totals), statistics.fmean(totals), statistics.median(totals))


@dataclass(frozen=True)
class AgeCoverage:
    """Of one platform's posted own posts: how many have a number at the age, and why the others have none."""

    posted: int
    with_number: int
    too_young: int
    no_snapshot_near: int
    at_age: Spread
    latest: Spread  # the newest snapshot of every post that has one, whatever its age


@dataclass(frozen=True)
class Day:
    day: date
    posts: int  # own posts posted that day
    at_age: Spread  # of those with a number at the age


@dataclass(frozen=True)
class Decile:
    low: float  # the lowest and highest score in it
    high: float
    engagement: Spread


@dataclass(frozen=True)
class ScoreRanking:
    deciles: list[Decile]
    spearman: float | None  # None under 3 posts, or when scores or engagement are all equal
    left_out: int  # posted own posts with a number at the age ranked by something else than the selector


@dataclass(frozen=True)
class GenerationTotals:
    generations: int
    candidates: int
    texts: int
    rejected: int


@dataclass(frozen=True)
class LedgerStats:
    age: timedelta
    now: datetime
    platforms: list[str]  # every platform the ledger has a post, mention, generation or billed call of
    states: dict[str, Counter[str]]  # platform -> post state -> rows (own posts and replies)
    replies: dict[str, int]  # platform -> reply rows
    mentions: dict[str, Counter[str]]  # platform -> mention state -> mentions
    costs: dict[str, float]  # platform -> US dollars billed
    coverage: dict[str, AgeCoverage]
    days: dict[str, list[Day]]  # platform -> every day from its first post to its last, oldest first
    ranking: dict[str, ScoreRanking]
    picks: dict[str, dict[str, Spread]]  # platform -> pick -> engagement at the age; counts of posts with numbers
    picked: dict[str, Counter[str]]  # platform -> pick -> posted own posts, with a number or not
    rejections: dict[str, Counter[str]]  # platform -> filter -> candidates rejected
    generations: dict[tuple[str, str], GenerationTotals]  # (platform, kind 'post' | 'reply') -> totals


def ledger_stats(ledger: Ledger, age: timedelta, now: datetime | None = None) -> LedgerStats:
    """Everything the report shows, read in a handful of queries."""
    now = now or datetime.now(timezone.utc)
    rows = ledger.posts()
    own = [row for row in rows if row.reply_to is None and row.state == "posted"]
    aged = ledger.engagement_at_age(age, now=now)
    numbers = {post.post_id: post for post in aged.posts}
    latest = ledger.latest_metrics(row.id for row in own)

    states: dict[str, Counter[str]] = defaultdict(Counter)
    replies: Counter[str] = Counter()
    for row in rows:
        states[row.platform][row.state] += 1
        replies[row.platform] += row.reply_to is not None
    mentions: dict[str, Counter[str]] = defaultdict(Counter)
    for mention in ledger.mentions():
        mentions[mention.platform][mention.state] += 1
    costs: dict[str, float] = defaultdict(float)
    for platform, _, _, _, _, _, cost in ledger.costs():
        costs[platform] += cost
    rejections, generations = _generation_totals(ledger)

    own_by_platform: dict[str, list[PostRow]] = defaultdict(list)
    for row in own:
        own_by_platform[row.platform].append(row)
    platforms = sorted(set(states) | set(mentions) | set(costs) | set(rejections))
    return LedgerStats(
        age=age,
        now=now,
        platforms=platforms,
        states=dict(states),
        replies=dict(replies),
        mentions=dict(mentions),
        costs=dict(costs),
        coverage={platform: _coverage(posts, numbers, latest, age, now) for platform, posts in own_by_platform.items()},
        days={platform: _days(posts, numbers) for platform, posts in own_by_platform.items()},
        ranking={platform: _ranking(posts, numbers) for platform, posts in own_by_platform.items()},
        picks={platform: _picks(posts, numbers) for platform, posts in own_by_platform.items()},
        picked={platform: Counter(_pick(row.exploratory) for row in posts) for platform, posts in
                own_by_platform.items()},
        rejections=rejections,
        generations=generations,
    )


def _coverage(posts: list[PostRow], numbers: dict[int, AgedPost], latest: dict, age: timedelta,
              now: datetime) -> AgeCoverage:
    too_young = sum(1 for row in posts if row.posted_at is not None and now - row.posted_at < age)
    with_number = [numbers[row.id].total for row in posts if row.id in numbers]
    return AgeCoverage(
        posted=len(posts),
        with_number=len(with_number),
        too_young=too_young,
        no_snapshot_near=len(posts) - too_young - len(with_number),
        at_age=Spread.of(with_number),
        latest=Spread.of([float(latest[row.id].total) for row in posts if row.id in latest]),
    )


def _days(posts: list[PostRow], numbers: dict[int, AgedPost]) -> list[Day]:
    counts: Counter[date] = Counter()
    totals: dict[date, list[float]] = defaultdict(list)
    for row in posts:
        assert row.posted_at is not None  # a posted row has its time (the ledger's CHECK)
        day = row.posted_at.astimezone(timezone.utc).date()
        counts[day] += 1
        if row.id in numbers:
            totals[day].append(numbers[row.id].total)
    if not counts:
        return []
    # Days without a post are days of 0 posts, not gaps in the line.
    first, last = min(counts), max(counts)
    span = [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
    return [Day(day, counts[day], Spread.of(totals[day])) for day in span]


def _ranking(posts: list[PostRow], numbers: dict[int, AgedPost]) -> ScoreRanking:
    with_number = [row for row in posts if row.id in numbers]
    scored = sorted(((row.score, numbers[row.id].total) for row in with_number
                     if row.ranked_by == "selector" and row.score is not None), key=lambda pair: pair[0])
    groups = min(MAX_DECILES, len(scored))
    deciles = []
    for index in range(groups):
        members = scored[index * len(scored) // groups:(index + 1) * len(scored) // groups]
        deciles.append(Decile(members[0][0], members[-1][0], Spread.of([total for _, total in members])))
    return ScoreRanking(deciles, spearman([s for s, _ in scored], [t for _, t in scored]),
                        left_out=len(with_number) - len(scored))


def _pick(exploratory: bool | None) -> str:
    return "unknown" if exploratory is None else ("explore" if exploratory else "exploit")


def _picks(posts: list[PostRow], numbers: dict[int, AgedPost]) -> dict[str, Spread]:
    totals: dict[str, list[float]] = {pick: [] for pick in PICKS}
    for row in posts:
        if row.id in numbers:
            totals[_pick(row.exploratory)].append(numbers[row.id].total)
    return {pick: Spread.of(values) for pick, values in totals.items()}


def _generation_totals(ledger: Ledger) -> tuple[dict[str, Counter[str]], dict[tuple[str, str], GenerationTotals]]:
    rejections: dict[str, Counter[str]] = defaultdict(Counter)
    sums: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for generation in ledger.generations():
        rejections[generation.platform].update(generation.rejected)
        total = sums[(generation.platform, generation.kind)]
        total[0] += 1
        total[1] += generation.candidates
        total[2] += generation.texts
        total[3] += sum(generation.rejected.values())
    return dict(rejections), {key: GenerationTotals(*values) for key, values in sorted(sums.items())}


def _ranks(values: list[float]) -> list[float]:
    """1-based ranks, tied values sharing their mean rank."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for position in range(start, end + 1):
            ranks[order[position]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def spearman(xs: list[float], ys: list[float]) -> float | None:
    """Spearman's rank correlation; None under 3 pairs or when either side has a single value."""
    if len(xs) < 3 or len(set(xs)) < 2 or len(set(ys)) < 2:
        return None
    return statistics.correlation(_ranks(xs), _ranks(ys))

