"""`lorecast train selector --ledger`: bootstrap examples plus posted texts labelled by engagement, on ledgers built
with the real Ledger API in tmp_path, and the session's small trained generator (tests/conftest.py `trained`).

The ledgers hold texts of the corpus grammar from two noun pools; the audience grows twentyfold over the weeks and
likes one pool three times as much, so only a selector that learnt from the engagement prefers that pool."""

from __future__ import annotations

import hashlib
import json
import random
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cli_harness import CliResult, lorecast
from sklearn.metrics import roc_auc_score
from transformers import AutoModelForCausalLM, AutoTokenizer

import poster.ledger
from poster.ledger import Ledger
from poster.platforms.base import Engagement
from serve_handler.selector import CONFIG_FILE, Selector
from trainer.engagement import label_by_engagement

FEW_POSITIVES = ("--min-positives", "20")  # the session corpus has 40 test lines
START = datetime(2024, 3, 1, tzinfo=timezone.utc)
# Two pools of the corpus grammar's words (tests/conftest.py `sentences`), no word in both: the test lines mix them,
# so the bootstrap examples alone favour neither.
LIKED = (("old", "sleepy", "clever"), ("hacker", "kernel", "daemon", "wizard"), ("patches", "crashes", "compiles"))
PLAIN = (("broken", "shiny"), ("bug", "terminal", "compiler", "packet"), ("reboots", "greps", "forks"))


def pool_sentence(rng: random.Random, pool: tuple[tuple[str, ...], ...]) -> str:
    adjectives, nouns, verbs = pool
    return f"the {rng.choice(adjectives)} {rng.choice(nouns)} {rng.choice(verbs)} the {rng.choice(nouns)}."


def post_timeline(ledger: Ledger, clock: dict[str, datetime], platform: str, count: int, seed: int) -> None:
    """`count` posts eight hours apart, each with engagement audience(t) x taste(pool) x noise a day later, and a
    snapshot three days later whose numbers ignore the taste (taken at another age, they must not be the label)."""
    rng = random.Random(seed)
    index = 0
    while index < count:
        liked = rng.random() < 0.5
        text = pool_sentence(rng, LIKED if liked else PLAIN)
        if ledger.has_text(platform, "@bot", text):
            continue
        clock["now"] = START + timedelta(hours=8 * index + rng.uniform(0, 4))
        post_id = ledger.begin(platform, "@bot", text, score=None, ranked_by="logprob", rng_seed=index)
        ledger.mark_posted(post_id, f"{platform}-{index}")
        total = round(10 * 20 ** (index / count) * (3 if liked else 1) * rng.lognormvariate(0, 0.3))
        ledger.record_engagement(post_id, Engagement(likes=total - total // 4, reposts=total // 4),
                                 fetched_at=clock["now"] + timedelta(days=1))
        ledger.record_engagement(post_id, Engagement(likes=rng.randrange(10, 400)),
                                 fetched_at=clock["now"] + timedelta(days=3))
        index += 1


@pytest.fixture(scope="module")
def ledger_path(tmp_path_factory) -> Path:
    """120 twitter and 60 tumblr posts with engagement, plus a failed post and a posted one without metrics."""
    path = tmp_path_factory.mktemp("ledger") / "posts.db"
    clock = {"now": START}
    # The ledger stamps posted_at with its own clock; a fake one spreads the posts over weeks.
    with pytest.MonkeyPatch.context() as patch, Ledger(path) as ledger:
        patch.setattr(poster.ledger, "_now", lambda: clock["now"])
        post_timeline(ledger, clock, "twitter", 120, seed=1)
        post_timeline(ledger, clock, "tumblr", 60, seed=2)
        ledger.mark_failed(ledger.begin("twitter", "@bot", "the lost packet.", score=None, ranked_by=None,
                                        rng_seed=None), "timeout")
        ledger.mark_posted(ledger.begin("twitter", "@bot", "the new daemon forks.", score=None, ranked_by=None,
                                        rng_seed=None), "no-metrics-yet")
    return path


def train(trained, out: Path, *arguments: str) -> CliResult:
    corpus_dir, model_dir, _ = trained
    return lorecast("train", "selector", "--model", str(model_dir), "--corpus", str(corpus_dir), "-o", str(out),
                    *FEW_POSITIVES, *arguments)


def labelled_counts(path: Path, platform: str, quantile: float) -> dict[str, int]:
    with Ledger(path, create=False) as ledger:
        aged = ledger.engagement_at_age(timedelta(hours=24), platform)
        labels = [label for _, label in label_by_engagement([(post.posted_at, post.text, post.total)
                                                             for post in aged.posts], timedelta(days=14), quantile, 5)]
    return {"positive": labels.count(1), "negative": labels.count(0)}


@pytest.mark.slow
def test_engagement_run_stores_its_sources_and_learns_the_audiences_taste(trained, ledger_path, tmp_path):
    out = tmp_path / "selector"
    code, stdout, stderr = train(trained, out, "--ledger", str(ledger_path), "--platform", "twitter",
                                 "--quantile", "0.35")
    assert code == 0, stderr
    config = json.loads((out / CONFIG_FILE).read_text())
    metrics, trained_on = config["metrics"], config["trained_on"]
    engagement = trained_on["engagement"]
    assert trained_on["mode"] == "bootstrap+engagement"
    assert engagement["ledger"] == str(ledger_path) and engagement["platform"] == "twitter"
    assert engagement["ledger_sha256"] == hashlib.sha256(ledger_path.read_bytes()).hexdigest()
    assert engagement["posts_with_metrics"] == 120
    assert engagement["labelled"] == labelled_counts(ledger_path, "twitter", 0.35)
    assert engagement["options"] == {"at_age_hours": 24.0, "pool_platforms": False, "window_days": 14.0,
                                      "quantile": 0.35, "min_window_posts": 5}
    used = engagement["used"]
    assert 10 <= used["positive"] <= engagement["labelled"]["positive"]
    assert 10 <= used["negative"] <= engagement["labelled"]["negative"]

    # Every example is in exactly one split: the bootstrap's and the ledger's.
    counts = metrics["counts"]
    assert sum(part["positive"] for part in counts.values()) == trained_on["positives"] + used["positive"]
    assert sum(part["negative"] for part in counts.values()) == trained_on["negatives"] + used["negative"]
    held_out = metrics["engagement_held_out"]
    assert min(held_out.values()) >= 10  # enough for the engagement ROC-AUC
    assert held_out["positive"] < used["positive"] and held_out["negative"] < used["negative"]
    assert metrics["engagement_roc_auc"] >= 0.9

    assert f"engagement ROC-AUC {metrics['engagement_roc_auc']:.3f} ({held_out['positive']} positives, " \
           f"{held_out['negative']} negatives held out)" in stdout
    assert (f"engagement: 120 posts with metrics in {ledger_path}, labelled {engagement['labelled']['positive']} "
            f"positives and {engagement['labelled']['negative']} negatives, {used['positive']} and "
            f"{used['negative']} used") in stdout
    assert re.search(rf"bootstrap: {trained_on['positives']} positives, {trained_on['negatives']} negatives, "
                     rf"\d+ steps, .*; selector dir: {re.escape(str(out))}", stdout), stdout

    # On texts it never saw, the selector prefers the pool the audience liked (a bootstrap-only selector of this
    # generator scored 0.63-0.73 here across rng seeds, an engagement one 1.0).
    _, model_dir, _ = trained
    model, tokenizer = AutoModelForCausalLM.from_pretrained(model_dir), AutoTokenizer.from_pretrained(model_dir)
    rng = random.Random(99)
    fresh = [(pool_sentence(rng, LIKED), 1) for _ in range(40)] + [(pool_sentence(rng, PLAIN), 0) for _ in range(40)]
    scores = Selector.load(out).probabilities(model, tokenizer, [text for text, _ in fresh])
    assert roc_auc_score([label for _, label in fresh], scores) >= 0.9


@pytest.mark.slow
def test_too_few_held_out_engagement_examples_get_no_roc_auc(trained, ledger_path, tmp_path):
    out = tmp_path / "selector"
    code, stdout, stderr = train(trained, out, "--ledger", str(ledger_path), "--platform", "tumblr")
    assert code == 0, stderr
    config = json.loads((out / CONFIG_FILE).read_text())
    metrics, engagement = config["metrics"], config["trained_on"]["engagement"]
    assert engagement["posts_with_metrics"] == 60
    assert engagement["labelled"] == labelled_counts(ledger_path, "tumblr", 0.25)
    assert engagement["options"] == {"at_age_hours": 24.0, "pool_platforms": False, "window_days": 14.0,
                                      "quantile": 0.25, "min_window_posts": 5}
    held_out = metrics["engagement_held_out"]
    assert min(held_out.values()) < 10
    assert metrics["engagement_roc_auc"] is None
    assert (f"engagement ROC-AUC: too few engagement examples held out ({held_out['positive']} positives, "
            f"{held_out['negative']} negatives held out; 10 of each needed)") in stdout


def test_a_ledger_without_engagement_says_to_run_feedback(trained, tmp_path):
    path = tmp_path / "posts.db"
    with Ledger(path) as ledger:
        ledger.mark_posted(ledger.begin("twitter", "@bot", "the old bug greps the kernel.", score=None,
                                        ranked_by=None, rng_seed=None), "1")
    for platform, hint in (((), "PLATFORM"), (("--platform", "tumblr"), "tumblr")):
        code, _, stderr = train(trained, tmp_path / "s", "--ledger", str(path), *platform)
        where = f"{path} for tumblr" if platform else str(path)
        assert code == 1
        assert stderr == f"error: no engagement in {where} yet: run `lorecast feedback {hint}` first\n"
    assert not (tmp_path / "s").exists()


def test_a_missing_or_corrupt_ledger_is_the_ledgers_error_and_is_not_created(trained, tmp_path):
    missing = tmp_path / "typo" / "posts.db"
    code, _, stderr = train(trained, tmp_path / "s", "--ledger", str(missing))
    assert code == 1 and stderr == f"error: {missing}: no ledger there (a `lorecast post` run creates it)\n"
    assert not missing.parent.exists()

    corrupt = tmp_path / "posts.db"
    corrupt.write_text("not a database at all\n" * 100)
    code, _, stderr = train(trained, tmp_path / "s", "--ledger", str(corrupt))
    assert code == 1 and stderr.startswith(f"error: {corrupt}: not a readable lorecast ledger")
    assert stderr.count("\n") == 1
    assert not (tmp_path / "s").exists()


def test_a_ledger_with_too_few_usable_labels_is_refused(trained, tmp_path):
    path = tmp_path / "posts.db"
    clock = {"now": START}
    with pytest.MonkeyPatch.context() as patch, Ledger(path) as ledger:
        patch.setattr(poster.ledger, "_now", lambda: clock["now"])
        post_timeline(ledger, clock, "twitter", 20, seed=3)
    code, _, stderr = train(trained, tmp_path / "s", "--ledger", str(path))
    assert code == 1
    assert re.fullmatch(rf"error: {re.escape(str(path))}: 20 posts with engagement give \d+ usable positives and "
                        r"\d+ negatives, at least 10 of each needed \(.*\)\n", stderr), stderr
    assert not (tmp_path / "s").exists()


def test_engagement_options_need_a_ledger(trained, tmp_path, invoke):
    corpus_dir, model_dir, _ = trained
    result = invoke("selector", "--model", model_dir, "--corpus", corpus_dir, "-o", tmp_path / "s",
                    "--quantile", "0.3")
    assert result.exit_code == 2
    assert "--quantile needs --ledger" in result.output
