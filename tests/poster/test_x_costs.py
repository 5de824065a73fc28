"""X's pay-per-use: every billed call priced and recorded in the ledger, the monthly and per-run caps that stop a
run before a call would pass them (exit 76), links skipped unless --allow-links, and the price table file
(poster/costs.py, poster/platforms/twitter.py). The X stand-in verifies every signature and logs every request,
so the ledger's counts are checked against the calls X really got."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_harness import lorecast

from lorecast.errors import BudgetReached, SourceError
from poster.commands.exits import EXIT_BUDGET
from poster.costs import DEFAULT_PRICES, Meter, read_prices
from poster.ledger import Ledger


def calls(platform_server, method: str, pattern: str) -> int:
    import re

    return sum(1 for logged in platform_server.requests
               if logged.method == method and logged.signed_ok and re.fullmatch(pattern, logged.path))


def ledger_calls(env) -> dict[str, tuple[int, int, float]]:
    """kind -> (calls, units, US dollars) over every month."""
    with Ledger(Path(env["LORECAST_LEDGER"])) as ledger:
        return {kind: (count, units, cost) for _, _, _, kind, count, units, cost in ledger.costs("twitter")}


def test_every_billed_call_is_counted_and_priced(env, platform_server):
    for _ in range(2):
        assert lorecast("post", "twitter")[0] == 0
    posts = platform_server.posts("twitter")
    assert lorecast("feedback", "twitter")[0] == 0
    billed = ledger_calls(env)
    assert billed["post"] == (2, 2, pytest.approx(2 * 0.015))
    posted = calls(platform_server, "POST", "/x/2/tweets")
    me = calls(platform_server, "GET", "/x/2/users/me")
    engagement = calls(platform_server, "GET", "/x/2/tweets")
    assert posted == 2 and engagement == 1
    # One user object read per run (3 runs), and each of the 2 posts read back once by feedback.
    assert billed["read"] == (me + engagement, me + len(posts), pytest.approx((me + len(posts)) * 0.001))
    code, out, _ = lorecast("ledger", "costs")
    assert code == 0 and f"{2 * 0.015 + (me + len(posts)) * 0.001:.3f}" in out


def test_the_monthly_budget_stops_the_run_before_the_post_is_sent(env, platform_server):
    assert lorecast("post", "twitter")[0] == 0  # spends 0.015 + 0.001
    before = calls(platform_server, "POST", "/x/2/tweets")
    code, _, err = lorecast("post", "twitter", "--max-monthly-spend", "0.02")
    assert code == EXIT_BUDGET and err.count("\n") == 1
    assert "monthly budget" in err and "--max-monthly-spend" in err and "not made" in err
    assert calls(platform_server, "POST", "/x/2/tweets") == before == 1
    with Ledger(Path(env["LORECAST_LEDGER"])) as ledger:
        states = [row.state for row in ledger.posts()]
    assert states == ["failed", "posted"]  # the refused text is free again, nothing is pending
    # With room in the budget the next run posts.
    assert lorecast("post", "twitter", "--max-monthly-spend", "1")[0] == 0
    assert len(platform_server.posts("twitter")) == 2


def test_the_run_cap_counts_this_run_only(env, platform_server):
    assert lorecast("post", "twitter", "--max-run-spend", "0.02")[0] == 0
    code, _, err = lorecast("post", "twitter", "--count", "2", "--max-run-spend", "0.02")
    assert code == EXIT_BUDGET and "--max-run-spend" in err
    assert len(platform_server.posts("twitter")) == 2  # one per run: the second of this run was not sent


def test_texts_with_links_are_skipped_on_x_unless_allowed(env, platform_server, standin):
    standin.texts = ["Read https://example.org/lore today.", "A plain text."]
    assert lorecast("post", "twitter")[0] == 0
    assert [post.text for post in platform_server.posts("twitter")] == ["A plain text."]
    assert lorecast("post", "twitter", "--allow-links")[0] == 0
    assert platform_server.posts("twitter")[-1].text == "Read https://example.org/lore today."
    assert ledger_calls(env)["post_with_link"][:2] == (1, 1)


def test_a_price_table_file_overrides_the_defaults_and_bad_ones_name_the_file(tmp_path):
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"twitter": {"read": 0.002}, "mastodon": {"post": 0}}))
    table = read_prices(prices)
    assert table["twitter"] == {**DEFAULT_PRICES["twitter"], "read": 0.002} and table["mastodon"] == {"post": 0.0}
    for content, reason in (("[1]", "a JSON object"), ('{"twitter": {"post": -1}}', "twitter.post: a price"),
                            ('{"twitter": {"post": "cheap"}}', "a price is a number"), ("{", "not JSON")):
        prices.write_text(content)
        with pytest.raises(SourceError, match=reason):
            read_prices(prices)


def test_the_meter_refuses_before_the_call_and_records_what_was_billed(tmp_path):
    with Ledger(tmp_path / "posts.db") as ledger:
        meter = Meter(ledger, "twitter", monthly_cap_usd=0.05)
        meter.account = "bot"
        with meter.call("read", at_most=10) as bill:
            bill.units = 3
        with pytest.raises(RuntimeError), meter.call("post") as bill:
            bill.units = 1  # sent, then no answer: still billed
            raise RuntimeError("timeout")
        with pytest.raises(BudgetReached, match="0.018 of the \\$0.05 monthly budget"):
            with meter.call("read", at_most=100):
                raise AssertionError("the call must not be made")
        with meter.call("read", at_most=5):
            pass  # a read that returned nothing bills nothing
        assert [row[3:] for row in ledger.costs()] == [("post", 1, 1, pytest.approx(0.015)),
                                                        ("read", 1, 3, pytest.approx(0.003))]
        free = Meter(ledger, "mastodon", monthly_cap_usd=0)
        with free.call("post") as bill:  # no price: never refused
            bill.units = 1
