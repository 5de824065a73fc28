"""The whole chain for real: TorchServe serving the suite's .mar -> `lorecast post twitter` -> the test platform,
which verifies the OAuth1 signature; and a poster process that imports neither torch nor transformers."""

from __future__ import annotations

from cli_harness import lorecast
from serving_setup import MODEL

from poster.ledger import Ledger

HEAVY = ("torch", "transformers", "serve_handler.engine")


def test_torchserve_to_the_platform(server, platform_server, tmp_path):
    credentials = platform_server.twitter_credentials
    env = {
        "LORECAST_ENDPOINT": server.predictions_url(MODEL),
        "LORECAST_KEY_FILE": str(server.key_file),
        "LORECAST_LEDGER": str(tmp_path / "posts.db"),
        "LORECAST_TWITTER_API_URL": platform_server.twitter_api_url,
        "LORECAST_TWITTER_CONSUMER_KEY": credentials.consumer_key,
        "LORECAST_TWITTER_CONSUMER_SECRET": credentials.consumer_secret,
        "LORECAST_TWITTER_ACCESS_TOKEN": credentials.access_token,
        "LORECAST_TWITTER_ACCESS_SECRET": credentials.access_secret,
        # The suite's tiny model repeats its training lines: let them through.
        "LORECAST_REQUEST": '{"min_novelty": 0}',
    }
    # A process of its own, run under the harness's probe: which modules a poster run imports, and its peak memory.
    done = lorecast("post", "twitter", env=env, cwd=tmp_path, watch=HEAVY)
    assert done.exit_code == 0, done.stderr
    [published] = platform_server.posts("twitter")
    assert done.stdout.strip() == published.text
    assert all(signed for _, _, signed in platform_server.requests)
    with Ledger(tmp_path / "posts.db") as ledger:
        [row] = ledger.posts()
    assert (row.state, row.remote_id, row.ranked_by) == ("posted", published.id, "logprob")

    assert done.imported == [], done.imported  # neither torch nor transformers nor the engine
    print(f"poster run peak RSS: {done.peak_rss_kib / 1024:.1f} MiB")  # reported with -s; a number, not an assertion
