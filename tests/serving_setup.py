"""What the serving tests share besides fixtures: the model's name, its batch settings, and a raw HTTP POST."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

MODEL = "lorecast"
# A long batch delay so that requests sent together reliably land in one batch.
BATCH_SIZE, BATCH_DELAY_MS = 8, 400


def post(url: str, body: bytes | str | dict, key: str | None, content_type: str | None = "application/json"):
    """(status, parsed JSON body or raw text, headers) of one POST; never raises on an HTTP error status."""
    data = json.dumps(body).encode() if isinstance(body, dict) else body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(url, data=data, method="POST")
    if content_type is not None:
        request.add_header("Content-Type", content_type)
    if key is not None:
        request.add_header("Authorization", f"Bearer {key}")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=120) as response:
            status, raw, headers = response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        status, raw, headers = error.code, error.read(), error.headers
    try:
        return status, json.loads(raw), headers
    except ValueError:
        return status, raw.decode(errors="replace"), headers
