#!/usr/bin/env python3
"""Exit 0 when TorchServe has a model registered and every worker of every model is READY; else exit 1 with a
one-line reason. The startup and readiness probe of the lorecast TorchServe image (an exec probe):

    torchserve-ready [MANAGEMENT_URL]        default http://127.0.0.1:8081

TorchServe's /ping answers 200 "Healthy" as soon as the frontend is up, while the worker is still loading the
model (measured: about 5 s of "Healthy" before the worker was READY with the demo .mar, longer with a real
model), so /ping cannot say that the pod can serve. The management API can, and it listens on the pod's loopback
only, which the kubelet's httpGet probes cannot reach: hence a command. It needs no key because the cluster's
config turns token authorization off. Standard library only (it starts on every probe).
"""

from __future__ import annotations

import json
import sys
import urllib.request
from typing import Any

DEFAULT_MANAGEMENT_URL = "http://127.0.0.1:8081"
TIMEOUT_S = 3.0


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
        return json.load(response)


def not_ready_reason(management_url: str) -> str | None:
    """Why TorchServe at `management_url` cannot serve yet, or None when every worker of every model is READY."""
    models = _get(f"{management_url}/models").get("models", [])
    if not models:
        return "no model registered"
    for model in models:
        name = model["modelName"]
        for version in _get(f"{management_url}/models/{name}"):
            workers = version.get("workers", [])
            if not workers:
                return f"model {name}: no worker"
            waiting = [worker.get("status") for worker in workers if worker.get("status") != "READY"]
            if waiting:
                return f"model {name}: workers {', '.join(map(str, waiting))}"
    return None


def main(argv: list[str]) -> int:
    management_url = (argv[1] if len(argv) > 1 else DEFAULT_MANAGEMENT_URL).rstrip("/")
    try:
        reason = not_ready_reason(management_url)
    except (OSError, ValueError, KeyError, TypeError) as error:  # refused, timed out, not the JSON we expect
        reason = f"{management_url}: {error}"
    if reason is None:
        return 0
    print(f"not ready: {reason}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
