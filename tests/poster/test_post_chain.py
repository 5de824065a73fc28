"""The whole chain for real: TorchServe serving the suite's .mar -> `lorecast post twitter` -> the test platform,
which verifies the OAuth1 signature; and a poster process that imports neither torch nor transformers."""

from __future__ import annotations

import os
import subprocess
import sys

from serving_setup import MODEL

from poster.ledger import Ledger

# Runs the real console entry and reports which heavy modules the process imported, and its peak memory
# (VmHWM: unlike ru_maxrss it starts afresh at exec, so the test process's own size does not leak into it).
PROBE = """
import re, sys
from lorecast.cli import main
try:
    main()
finally:
    heavy = sorted(name for name in ("torch", "transformers", "serve_handler.engine") if name in sys.modules)
    with open("/proc/self/status") as status:
        peak = re.search(r"VmHWM:\\s+(\\d+) kB", status.read()).group(1)
    print("HEAVY=" + ",".join(heavy), "PEAK_KIB=" + peak, file=sys.stderr)
"""


def test_torchserve_to_the_platform(server, platform_server, tmp_path):
    credentials = platform_server.twitter_credentials
    env = {
        **os.environ,
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
    done = subprocess.run([sys.executable, "-c", PROBE, "post", "twitter"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    [published] = platform_server.posts("twitter")
    assert done.stdout.strip() == published.text
    assert all(signed for _, _, signed in platform_server.requests)
    with Ledger(tmp_path / "posts.db") as ledger:
        [row] = ledger.posts()
    assert (row.state, row.remote_id, row.ranked_by) == ("posted", published.id, "logprob")

    report = done.stderr.strip().splitlines()[-1]
    assert report.startswith("HEAVY= "), report  # neither torch nor transformers nor the engine
    peak_mib = int(report.split("PEAK_KIB=")[1]) / 1024
    print(f"poster run peak RSS: {peak_mib:.1f} MiB")  # reported with -s; a number, not an assertion
