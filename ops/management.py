"""TorchServe's management API, for rolling a model to a new version without a restart (`lorecast retrain`).

    api = ManagementApi("http://127.0.0.1:8081", key)      # key: key_file.json's "management" key
    api.register("lorecast-v2.mar")                          # POST /models, workers up before it answers
    api.set_default("lorecast", "2.0")                       # PUT /models/{name}/{version}/set-default
    api.unregister("lorecast", "1.0")                        # DELETE /models/{name}/{version}
    api.versions("lorecast")                                 # [(version, is_default), ...]

The .mar file must already be in TorchServe's model store: `register` names it by file name, as TorchServe's
`url` parameter takes it. Requests go straight to the address given, never through a proxy. Every refusal is a
LorecastError that quotes TorchServe's own message; the key is never part of one.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from lorecast.errors import LorecastError

_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))
REGISTER_TIMEOUT_S = 600.0  # a synchronous register waits for the workers to load the model


class ManagementApi:
    def __init__(self, url: str, key: str | None) -> None:
        self.url = url.rstrip("/")
        self._key = key

    def versions(self, name: str) -> list[tuple[str, bool]]:
        """Each registered version of `name` and whether it is the default one (TorchServe's descriptions do not
        say; describing the model without a version describes its default)."""
        default = str(self._call("GET", f"/models/{_quote(name)}")[0]["modelVersion"])
        described = self._call("GET", f"/models/{_quote(name)}/all")
        return [(str(entry["modelVersion"]), str(entry["modelVersion"]) == default) for entry in described]

    def register(self, mar_file: str, workers: int = 1) -> None:
        query = urllib.parse.urlencode({"url": mar_file, "initial_workers": workers, "synchronous": "true"})
        self._call("POST", f"/models?{query}", timeout=REGISTER_TIMEOUT_S)

    def set_default(self, name: str, version: str) -> None:
        self._call("PUT", f"/models/{_quote(name)}/{_quote(version)}/set-default")

    def unregister(self, name: str, version: str) -> None:
        self._call("DELETE", f"/models/{_quote(name)}/{_quote(version)}", timeout=REGISTER_TIMEOUT_S)

    def _call(self, method: str, path: str, timeout: float = 30.0) -> Any:
        request = urllib.request.Request(f"{self.url}{path}", method=method)
        if self._key is not None:
            request.add_header("Authorization", f"Bearer {self._key}")
        what = f"{method} {path.split('?')[0]}"
        try:
            with _HTTP.open(request, timeout=timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as error:
            raise LorecastError(f"TorchServe refused {what} (HTTP {error.code}): {_message(error.read())}") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise LorecastError(f"cannot reach TorchServe's management API at {self.url}: {reason}") from None
        return json.loads(body) if body.strip() else None


def _quote(part: str) -> str:
    return urllib.parse.quote(part, safe="")


def _message(body: bytes) -> str:
    """TorchServe's error text: {"code", "type", "message"}, else the body's start."""
    try:
        return str(json.loads(body)["message"])
    except (ValueError, KeyError, TypeError):
        return body.decode("utf-8", errors="replace").strip()[:300] or "no message"
