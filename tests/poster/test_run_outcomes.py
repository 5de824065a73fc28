"""A post run's decisions on the outcomes a real platform rarely gives in this order (poster/run.py), with an
in-memory platform that scripts each answer: whatever happens after an attempt that got no answer, the row ends
posted or unknown, never failed (its text freed while it may be out) and never pending."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from lorecast.errors import AuthRefused, BudgetReached, PlatformError, RateLimited, RateLimitedExit
from poster.inference import GeneratedText, Generation
from poster.ledger import Ledger
from poster.platforms.base import Draft, Engagement, Platform
from poster.run import PostOptions, post_run


class Scripted(Platform):
    """Each post() takes the next outcome: an exception to raise, or "ok" (the post goes out). Every attempt that
    raised a transient error went out all the same, as a timeout after the platform took the post does."""

    name, account = "scripted", "bot"

    def __init__(self, outcomes: Sequence[object], idempotent: bool = True, lookup: object = None) -> None:
        self.outcomes = list(outcomes)
        self.idempotent_create = idempotent
        self.lookup = lookup  # an exception find() raises, else it answers from what went out
        self.out: dict[str, str] = {}  # draft key -> remote id

    def fits(self, text: str) -> str | None:
        return None

    def post(self, draft: Draft) -> str:
        outcome = self.outcomes.pop(0)
        if outcome == "ok" or (isinstance(outcome, PlatformError) and outcome.transient
                               and not isinstance(outcome, RateLimited)):
            self.out.setdefault(draft.key, f"remote-{len(self.out) + 1}")
        if isinstance(outcome, BaseException):
            raise outcome
        return self.out[draft.key]

    def find(self, draft: Draft) -> str | None:
        if isinstance(self.lookup, BaseException):
            raise self.lookup
        return self.out.get(draft.key)

    def engagement(self, ids: Sequence[str]) -> dict[str, Engagement]:
        return {}


class Client:
    def generate(self, n: int, **request: object) -> Generation:
        texts = [GeneratedText(f"Candidate {index}.", "word", score=1.0, logprob=-1.0, novelty=1.0, exploratory=False)
                 for index in range(n)]
        return Generation(texts, seed="word", seed_requested=None, prompt=None, rng_seed=1, ranked_by="logprob",
                          candidates=n, rejected={}, missing=0, batch_size=1, raw={})


def run(platform: Scripted, tmp_path) -> tuple[Ledger, BaseException | None]:
    ledger = Ledger(tmp_path / "posts.db")
    try:
        post_run(platform, ledger, Client(), PostOptions(candidates=2, max_wait_s=0), lambda line: None,
                 sleep=lambda seconds: None)
    except BaseException as error:  # noqa: BLE001 - the test looks at what the run raised
        return ledger, error
    return ledger, None


TIMEOUT = PlatformError("no answer within 30 s", transient=True)


@pytest.mark.parametrize("then", [
    RateLimited("429", reset_at=None), PlatformError("422 unprocessable"), AuthRefused("401"),
], ids=["rate-limited", "refused", "auth"])
def test_a_refusal_after_an_unanswered_attempt_is_looked_up_not_failed(tmp_path, then):
    platform = Scripted([TIMEOUT, then])
    ledger, error = run(platform, tmp_path)
    [row] = ledger.posts()
    assert error is None and (row.state, row.remote_id) == ("posted", "remote-1")  # found: the timeout's post


def test_a_refusal_after_an_unanswered_attempt_stays_unknown_when_the_lookup_cannot_tell(tmp_path):
    platform = Scripted([TIMEOUT, PlatformError("422 unprocessable")], lookup=PlatformError("503", transient=True))
    ledger, error = run(platform, tmp_path)
    [row] = ledger.posts()
    assert isinstance(error, PlatformError) and row.state == "unknown"


def test_a_budget_stop_of_the_lookup_leaves_the_row_unknown_not_pending(tmp_path):
    platform = Scripted([TIMEOUT], idempotent=False, lookup=BudgetReached("the monthly budget"))
    ledger, error = run(platform, tmp_path)
    [row] = ledger.posts()
    assert isinstance(error, PlatformError) and row.state == "unknown" and "budget" in row.reason


def test_an_unexpected_error_while_sending_leaves_the_row_unknown(tmp_path):
    platform = Scripted([OSError(28, "No space left on device")])
    ledger, error = run(platform, tmp_path)
    [row] = ledger.posts()
    assert isinstance(error, OSError) and row.state == "unknown"


def test_a_plain_refusal_fails_the_row_and_a_rate_limit_exits(tmp_path):
    ledger, error = run(Scripted([PlatformError("422 unprocessable")]), tmp_path)
    assert isinstance(error, PlatformError) and ledger.posts()[0].state == "failed"
    ledger, error = run(Scripted([RateLimited("429", reset_at=None)]), tmp_path / "again")
    assert isinstance(error, RateLimitedExit) and ledger.posts()[0].state == "failed"
